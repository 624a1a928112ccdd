"""The run's plugins on every worker: each worker loads the tasks and cores the run names, at the
driver's versions, before any evaluation (a worker without one stops the run with one error)."""

from __future__ import annotations

from typing import Any

from evo_fastslow.agents.cores import BUILT_IN_CORES, load_core
from evo_fastslow.errors import InputError
from evo_fastslow.plugins import LOADED, PluginError, load_task
from evo_fastslow.tasks import TASKS


def available(tasks: list[str], cores: list[str]) -> dict[str, str]:
    """On a worker: each named plugin's version, or why it cannot be loaded ('missing: ...')."""
    found = {}
    for name, load in [*((kind, load_task) for kind in tasks), *((core, load_core) for core in cores)]:
        try:
            load(name)
            found[name] = LOADED.get(name, "built in")
        except PluginError as err:
            found[name] = f"missing: {err}"
    return found


def check_workers(evaluator: Any, suites: list[Any], space: Any, archive: Any, run_dir: str) -> list[str]:
    """The run's plugins (its suites' tasks, its space's cores) loaded on every worker: InputError naming
    a worker that cannot load one; the versions that differ from the driver's, as problems. The driver's
    versions are kept in the archive (meta `plugins`)."""
    tasks = sorted({s.task.kind for s in suites} - set(TASKS))
    cores = sorted({*space.genes["core"].choices, space.fixed.get("core", "lstm")} - set(BUILT_IN_CORES))
    if not tasks and not cores:
        return []
    wanted = {name: LOADED.get(name, "") for name in (*tasks, *cores)}
    archive.set_meta("plugins", wanted)
    problems = []
    for worker, found in sorted(evaluator.on_every_worker(available, tasks, cores).items()):
        for name, version in found.items():
            if version.startswith("missing: "):
                raise InputError(run_dir, "plugins", f"every worker able to load plugin {name!r}; worker {worker} "
                                 f"cannot: {version.removeprefix('missing: ')}")
            if version != wanted[name]:
                problems.append(f"worker {worker} has plugin {name!r} at {version}, the driver at {wanted[name]}")
    return problems
