"""Fitness suites (fitness/*.yaml): a task distribution, a lifetime budget, a held-out test, a metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evo_fastslow.errors import InputError, read_yaml
from evo_fastslow.tasks import TASKS, Task

SUITE_SCHEMA = "evo_fastslow.suite/1"
WORST_FITNESS = -1.0e9  # finite: EvoTorch's best-so-far tracking breaks on NaN


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskSpec(_Strict):
    kind: str = Field(description="a task of the registry (" + ", ".join(TASKS) + "), or a plugin's: an import "
                      "path module:Class, or an entry point of evo_fastslow.tasks (evo_fastslow/plugins.py)")
    params: dict[str, Any] = Field(default_factory=dict, description="the task's own parameters")

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in TASKS:
            from evo_fastslow.plugins import PluginError, load_task

            try:
                load_task(kind)
            except PluginError as err:
                raise ValueError(f"one of {', '.join(TASKS)}, or a plugin's task: {err}") from None
        return kind


class LifetimeSpec(_Strict):
    train_env_steps: int = Field(gt=0, le=10**11, description="environment steps of slow learning (the budget; at most 10^11)")


class TestSpec(_Strict):
    episodes: int = Field(1000, gt=0, le=10**7, description="held-out episodes, weights frozen (at most 10^7)")
    streams: int | None = Field(None, gt=0, le=10**5, description="play the episodes as this many parallel streams, "
                                "each in sequence, episodic memory kept across a stream's episodes")


class FitnessSuite(_Strict):
    """What a lifetime is trained on and how its fast learning is scored."""

    schema_: Literal["evo_fastslow.suite/1"] = Field(alias="schema")
    name: str
    description: str = ""
    task: TaskSpec
    lifetime: LifetimeSpec
    test: TestSpec = TestSpec()
    metric: Literal["normalized_score", "test_reward", "neg_test_regret"] = "normalized_score"

    def build_task(self) -> Task:
        from evo_fastslow.plugins import load_task

        return load_task(self.task.kind)(**self.task.params)

    def fitness(self, result: Any) -> float:
        """The metric of a LifetimeResult, maximised; the worst finite value when it did not finish."""
        if result.status != "ok":
            return WORST_FITNESS
        if self.metric == "normalized_score":
            return float(result.normalized_score)
        if self.metric == "test_reward":
            return float(result.test_mean_reward)
        return -float(result.test_regret)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_suite(path: str | Path) -> FitnessSuite:
    """Load and validate a suite file; InputError naming the file and field otherwise."""
    path = Path(path)
    data = read_yaml(path, "suite file")
    if not isinstance(data, dict):
        raise InputError(str(path), "(top level)", "a mapping of suite fields")
    try:
        suite = FitnessSuite.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(str(path), _field(first["loc"]), first["msg"]) from None
    try:
        task = suite.build_task()
    except ValidationError as err:
        first = err.errors()[0]
        where = "task.params" + (f".{_field(first['loc'])}" if first["loc"] else "")
        raise InputError(str(path), where, first["msg"].removeprefix("Value error, ")) from None
    if not task.has_oracle and suite.metric != "test_reward":
        raise InputError(str(path), "metric", f"test_reward (a {task.kind} task has no known oracle to normalise by)")
    return suite
