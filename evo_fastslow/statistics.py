"""Means with 95% confidence intervals (Student's t, from scipy): replicates of a lifetime are few, so
the normal approximation would be too narrow."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float     # NaN with fewer than two values: no interval from one draw
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in asdict(self).items()}


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """The mean and its two-sided t interval at `level`."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired_interval(base: Sequence[float], changed: Sequence[float], level: float = LEVEL) -> Interval:
    """The mean effect of a change, measured on the same seeds (common random numbers): t interval of
    the paired differences changed - base."""
    return mean_interval(np.asarray(changed, np.float64) - np.asarray(base, np.float64), level)


def format_interval(d: dict[str, Any] | None, sign: str = "") -> str:
    """An interval as a report stores it (`Interval.to_dict`): "mean [low, high]"; `sign="+"` for effects."""
    if not d or not d.get("n"):
        return "-"
    if d.get("low") is None:
        return f"{d['mean']:{sign}.3f}"
    return f"{d['mean']:{sign}.3f} [{d['low']:{sign}.3f}, {d['high']:{sign}.3f}]"
