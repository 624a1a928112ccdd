"""Task distributions: batched twins for the learner, Gymnasium envs for users and checks.

`TASKS` is the registry a suite's `task.kind` names; every entry has a Gymnasium env registered
under the `evo_fastslow/` namespace (`GYM_IDS`), held to `check_env` by the tests.
"""

from __future__ import annotations

import gymnasium as gym

from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.base import Episodes, Policy, Streams, Task, run_policy
from evo_fastslow.tasks.harlow import HarlowTask
from evo_fastslow.tasks.recurring import RecurringBanditTask
from evo_fastslow.tasks.two_step import TwoStepTask

TASKS: dict[str, type[Task]] = {t.kind: t for t in (BanditTask, TwoStepTask, HarlowTask, RecurringBanditTask)}

GYM_IDS: dict[str, str] = {
    "bandit": "evo_fastslow/Bandit-v0", "two-step": "evo_fastslow/TwoStep-v0",
    "harlow": "evo_fastslow/Harlow-v0", "recurring-contextual-bandits": "evo_fastslow/RecurringBandits-v0",
}
_ENTRY_POINTS = {
    "bandit": "evo_fastslow.tasks.bandit:BanditEnv", "two-step": "evo_fastslow.tasks.two_step:TwoStepEnv",
    "harlow": "evo_fastslow.tasks.harlow:HarlowEnv",
    "recurring-contextual-bandits": "evo_fastslow.tasks.recurring:RecurringBanditEnv",
}

for _kind, _id in GYM_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_ENTRY_POINTS[_kind])

__all__ = ["TASKS", "GYM_IDS", "Task", "Episodes", "Policy", "Streams", "run_policy", "BanditTask", "TwoStepTask",
           "HarlowTask", "RecurringBanditTask"]
