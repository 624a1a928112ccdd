"""Task distributions: batched twins for the learner, Gymnasium envs for users and checks.

`TASKS` is the registry a suite's `task.kind` names; every entry has a Gymnasium env registered
under the `evo_fastslow/` namespace (`GYM_IDS`), held to `check_env` by the tests.
"""

from __future__ import annotations

import gymnasium as gym

from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.base import Episodes, Policy, Task, run_policy

TASKS: dict[str, type[Task]] = {BanditTask.kind: BanditTask}

GYM_IDS: dict[str, str] = {"bandit": "evo_fastslow/Bandit-v0"}
_ENTRY_POINTS = {"bandit": "evo_fastslow.tasks.bandit:BanditEnv"}

for _kind, _id in GYM_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_ENTRY_POINTS[_kind])

__all__ = ["TASKS", "GYM_IDS", "Task", "Episodes", "Policy", "run_policy", "BanditTask"]
