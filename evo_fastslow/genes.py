"""Gene kinds: how the unit interval maps onto a gene's values, which values are valid, how one mutates.

Categorical and integer genes split [0,1] into equal bins and encode to the bin's centre, so
`decode(encode(value)) == value`. Floats are kept to a fixed precision (6 significant digits on a log
scale, a millionth of the range on a linear one), which makes the round trip exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

_SIG_DIGITS = 6


def _canonical_float(value: float) -> float:
    return float(f"{value:.{_SIG_DIGITS}g}")


def reflect(values: Any) -> Any:
    """Fold R (or R^d) into [0,1] by reflection at the ends: smooth, unlike clamping."""
    folded = np.abs(values) % 2.0
    return np.where(folded > 1.0, 2.0 - folded, folded)


def _bin(x: float, n: int) -> int:
    return min(int(math.floor(min(max(x, 0.0), 1.0) * n)), n - 1)


@dataclass(frozen=True)
class Gene:
    """One evolvable choice. Subclasses say how [0,1] maps to values and which values are valid."""

    name: str
    doc: str

    @property
    def default(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def decode(self, x: float) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def encode(self, value: Any) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def validate(self, value: Any) -> Any:
        """The canonical value, or ValueError saying what was expected."""
        raise NotImplementedError  # pragma: no cover

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def mutate(self, value: Any, rng: np.random.Generator, scale: float) -> Any:
        """A numeric gene moves by a Gaussian step of `scale` on its [0,1] scale (reflected at the ends)."""
        return self.decode(float(reflect(self.encode(value) + rng.normal(0.0, scale))))

    def narrowed(self, low: Any, high: Any) -> "Gene":
        raise ValueError("a numeric gene (only integer and float genes take a range)")


def _other_choice(choices: tuple, value: Any, rng: np.random.Generator) -> Any:
    others = [c for c in choices if c != value]
    return others[int(rng.integers(len(others)))] if others else value


@dataclass(frozen=True)
class Categorical(Gene):
    choices: tuple[str, ...] = ()
    default_value: str = ""
    also: tuple[str, ...] = ()  # values a config may choose (plugin cores) that are not searched by default

    @property
    def default(self) -> str:
        return self.default_value

    def decode(self, x: float) -> str:
        return self.choices[_bin(x, len(self.choices))]

    def encode(self, value: str) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def validate(self, value: Any) -> str:
        if not isinstance(value, str) or (value not in self.choices and value not in self.also):
            raise ValueError(f"one of {list(self.choices + self.also)}, got {value!r}")
        return value

    def describe(self) -> str:
        return " | ".join(self.choices + self.also)

    def mutate(self, value: str, rng: np.random.Generator, scale: float) -> str:
        """Another choice, never a drift inside the current one's bin."""
        return _other_choice(self.choices, value, rng)

    def with_choices(self, choices: list[str]) -> "Categorical":
        for choice in choices:
            self.validate(choice)
        default = self.default_value if self.default_value in choices else choices[0]
        return Categorical(self.name, self.doc, choices=tuple(choices), default_value=default)


@dataclass(frozen=True)
class Bool(Gene):
    default_value: bool = False

    @property
    def default(self) -> bool:
        return self.default_value

    def decode(self, x: float) -> bool:
        return bool(_bin(x, 2))

    def encode(self, value: bool) -> float:
        return 0.75 if value else 0.25

    def validate(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"true or false, got {value!r}")
        return value

    def describe(self) -> str:
        return "true | false"

    def mutate(self, value: bool, rng: np.random.Generator, scale: float) -> bool:
        return not value


@dataclass(frozen=True)
class _Range(Gene):
    """A numeric gene: [0,1] maps linearly (or logarithmically) onto [low, high]."""

    low: float = 0.0
    high: float = 1.0
    default_value: float = 0.0
    log: bool = False
    label: ClassVar[str] = ""

    @property
    def default(self) -> Any:
        return self.default_value

    def _ends(self) -> tuple[float, float]:
        lo, hi = self._span()
        return (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def _span(self) -> tuple[float, float]:
        return self.low, self.high

    def _snap(self, value: float) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def decode(self, x: float) -> Any:
        a, b = self._ends()
        y = a + min(max(x, 0.0), 1.0) * (b - a)
        return self._snap(math.exp(y) if self.log else y)

    def encode(self, value: Any) -> float:
        a, b = self._ends()
        y = math.log(value) if self.log else float(value)
        return min(max((y - a) / (b - a), 0.0), 1.0)

    def describe(self) -> str:
        return f"{self.label} [{self.low}, {self.high}]" + (" (log)" if self.log else "")

    def narrowed(self, low: Any, high: Any) -> "_Range":
        low, high = self.validate(low), self.validate(high)
        if low > high or (low == high and isinstance(self, Float)):
            raise ValueError(f"low < high, got [{low}, {high}]")
        return replace(self, low=low, high=high, default_value=min(max(self.default_value, low), high))


@dataclass(frozen=True)
class Integer(_Range):
    low: int = 0
    high: int = 1
    default_value: int = 0
    label: ClassVar[str] = "int"

    def _span(self) -> tuple[float, float]:
        return self.low - 0.5, self.high + 0.5  # equal-width bins around each integer

    def _snap(self, value: float) -> int:
        return int(min(max(round(value), self.low), self.high))

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            raise ValueError(f"an integer in [{self.low}, {self.high}], got {value!r}")
        return value

    def mutate(self, value: int, rng: np.random.Generator, scale: float) -> int:
        moved = super().mutate(value, rng, scale)
        if moved == value and self.low < self.high:  # a mutation always changes the gene
            moved = value + 1 if value == self.low or (value < self.high and rng.random() < 0.5) else value - 1
        return moved


@dataclass(frozen=True)
class Float(_Range):
    label: ClassVar[str] = "float"

    def _snap(self, value: float) -> float:
        if self.log:
            value = _canonical_float(value)
        else:
            value = round(value, _SIG_DIGITS - math.floor(math.log10(self.high - self.low))) + 0.0
        return min(max(value, self.low), self.high)

    def validate(self, value: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or not self.low <= value <= self.high):
            raise ValueError(f"a number in [{self.low}, {self.high}], got {value!r}")
        return self._snap(float(value))
