"""Task distributions: batched twins for the learner, Gymnasium envs for users and checks.

`TASKS` is the registry a suite's `task.kind` names; every entry but `gymnasium` (which runs a
registered Gymnasium env itself) has a Gymnasium env registered under the `evo_fastslow/` namespace
(`GYM_IDS`), held to `check_env` by the tests.
"""

from __future__ import annotations

from evo_fastslow.gym_registry import GYM_IDS
from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.base import Episodes, Policy, Streams, Task, run_policy
from evo_fastslow.tasks.gridworld import GridworldTask
from evo_fastslow.tasks.gymnasium_task import GymnasiumTask
from evo_fastslow.tasks.harlow import HarlowTask
from evo_fastslow.tasks.jackpot import JackpotBanditTask
from evo_fastslow.tasks.recurring import RecurringBanditTask
from evo_fastslow.tasks.two_step import TwoStepTask

TASKS: dict[str, type[Task]] = {t.kind: t for t in (BanditTask, TwoStepTask, HarlowTask, RecurringBanditTask,
                                                   JackpotBanditTask, GridworldTask, GymnasiumTask)}

__all__ = ["TASKS", "GYM_IDS", "Task", "Episodes", "Policy", "Streams", "run_policy", "BanditTask", "TwoStepTask",
           "HarlowTask", "RecurringBanditTask", "JackpotBanditTask", "GridworldTask", "GymnasiumTask"]
