"""LifetimeResult: plain data (picklable, JSON-able) describing one lifetime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LifetimeResult:
    status: str                      # "ok", "diverged" (a non-finite loss) or "timeout": recorded, never raised
    reason: str = ""                 # why it is not ok
    test_regret: float = float("nan")           # mean episode regret on held-out tasks, weights frozen
    test_reward_per_trial: list[float] = field(default_factory=list)  # mean reward at each step of an episode
    test_mean_reward: float = float("nan")      # mean reward per step over the test episodes
    normalized_score: float = float("nan")      # (agent - random) / (oracle - random), expected rewards
    learning_curve: list[tuple[int, float]] = field(default_factory=list)  # (env steps, reward/step)
    # beside each curve point, means since the last: entropy, value and policy loss, gradient norm before
    # clipping, the share of an episode's actions that went to its most taken action, the schedules' values
    diagnostics: list[dict[str, float]] = field(default_factory=list)
    env_steps: int = 0               # training environment steps taken
    updates: int = 0                 # gradient updates taken
    wall_seconds: float = 0.0
    parameter_count: int = 0
    analysis: dict[str, Any] = field(default_factory=dict)  # the task's own figures of the test episodes
    engine: str = ""                 # "fused" (the C++ kernel) or "python" (equal in the reproducible mode)
    numerics: str = ""               # "reproducible" (the same on every CPU) or "native" (numerics/__init__.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
