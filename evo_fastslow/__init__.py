"""evo-fastslow: evolution (slowest) -> lifetime gradient learning (slow) -> in-episode meta-RL (fast).

The Python API (evo_fastslow/api.py): `evolve`, `resume`, `open_run` -> `Run`; `validate`, `ablate`,
`run_lifetime` return what the CLI prints; `load` reads a run config; `check_task` holds a task to the batched contract."""

from evo_fastslow.api import GenomeInfo, Run, ablate, evolve, load, open_run, plan, resume, run_lifetime, validate
from evo_fastslow.errors import ConfigWarning, InputError
from evo_fastslow.gym_registry import register_envs
from evo_fastslow.tasks.check import TaskContractError, check_task

__version__ = "0.1.0"
__all__ = ["ConfigWarning", "GenomeInfo", "InputError", "Run", "TaskContractError", "ablate", "check_task", "evolve",
           "load", "open_run", "plan", "resume", "run_lifetime", "validate"]

register_envs()
