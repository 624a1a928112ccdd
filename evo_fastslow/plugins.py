"""Plugins: tasks, cores and their genes from the user's own package, without forking.

- A task: a suite's `task.kind` names it by import path (`"mypkg.tasks:MazeTask"`) or by the name of an
  entry point in the group `evo_fastslow.tasks`. It must subclass `evo_fastslow.tasks.Task` (the
  batched contract, `check_task` holds a task to it).
- A core: a run config's `search_space` names it (`choices: {core: [lstm, gated]}` or `fixed: {core:
  gated}`) by import path or by the name of an entry point in `evo_fastslow.cores`. A core is an
  `nn.Module` built as `Core(input_size, hidden_size, **its_own_genes)`, with `hidden_size`,
  `initial_state(batch)`, `step(x, state)` and `replay(x [T, B, I], state) -> h [T, B, H]`; an
  `actor()` for the NumPy acting pass is optional (a torch one is used otherwise). Its class attribute
  `genes` (a tuple of `evo_fastslow.genes` genes) joins the search space: searched only where a config
  names them in `search_space.search`, so no older config changes.

Loading a plugin imports the user's code, so only names a run config or suite gives are loaded (and, on
the workers, the ones the driver sends). A genome file can choose a plugin core only among the
installed entry points. Every plugin loaded is recorded with its distribution's version in the numeric
fingerprint; a worker without it stops the run with one error naming both.
"""

from __future__ import annotations

import functools
import importlib
from importlib import metadata
from typing import Any

TASK_GROUP = "evo_fastslow.tasks"
CORE_GROUP = "evo_fastslow.cores"
LOADED: dict[str, str] = {}  # plugin name -> "distribution version" (or the module, when not installed)


class PluginError(ValueError):
    """A plugin that cannot be loaded or breaks its contract; the message names it and why."""


def is_import_path(name: str) -> bool:
    return ":" in name


def _entry_point(group: str, name: str) -> metadata.EntryPoint | None:
    found = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    return found[0] if found else None


def installed(group: str) -> list[str]:
    """Names of the installed entry points of a group (metadata only: nothing is imported)."""
    return sorted({ep.name for ep in metadata.entry_points(group=group)})


def _version_of(module_name: str) -> str:
    top = module_name.split(".")[0]
    distributions = metadata.packages_distributions().get(top, [])
    for distribution in distributions:
        try:
            return f"{distribution} {metadata.version(distribution)}"
        except metadata.PackageNotFoundError:
            continue
    return f"{top} (not an installed distribution)"


def load_plugin(group: str, name: str, what: str, allow_import_path: bool = True) -> Any:
    """The object a plugin name points to: an import path `module:attribute`, or an entry point."""
    if is_import_path(name):
        if not allow_import_path:
            raise PluginError(f"{what} {name!r}: an installed entry point of {group} (import paths are taken "
                              "only from a run config or suite)")
        module_name, _, attribute = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 - the user's module: any error is reported, not raised raw
            raise PluginError(f"{what} {name!r}: module {module_name!r} cannot be imported "
                              f"({type(err).__name__}: {err})") from None
        try:
            found = functools.reduce(getattr, attribute.split("."), module)
        except AttributeError:
            raise PluginError(f"{what} {name!r}: module {module_name!r} has no {attribute!r}") from None
        LOADED[name] = _version_of(module_name)
        return found
    entry = _entry_point(group, name)
    if entry is None:
        known = ", ".join(installed(group)) or "none installed"
        raise PluginError(f"{what} {name!r}: an import path module:Class or an entry point of {group} "
                          f"({known})")
    try:
        found = entry.load()
    except Exception as err:  # noqa: BLE001
        raise PluginError(f"{what} {name!r}: entry point {entry.value!r} cannot be loaded "
                          f"({type(err).__name__}: {err})") from None
    LOADED[name] = (f"{entry.dist.name} {entry.dist.version}" if entry.dist is not None
                    else _version_of(entry.module))
    return found


@functools.lru_cache(maxsize=None)
def load_task(kind: str) -> type:
    """The Task class a suite's `task.kind` names: built in, by import path, or by entry point."""
    from evo_fastslow.tasks import TASKS, Task

    if kind in TASKS:
        return TASKS[kind]
    found = load_plugin(TASK_GROUP, kind, "task")
    if not (isinstance(found, type) and issubclass(found, Task)):
        raise PluginError(f"task {kind!r}: a subclass of evo_fastslow.tasks.Task, not {found!r}")
    return found


def load_plugin_core(name: str, allow_import_path: bool = True) -> type:
    """The core class a plugin name points to, held to the core protocol; registering it (its name a
    value of the `core` gene, its genes in the search space) is `genome.register_core`'s job."""
    found = load_plugin(CORE_GROUP, name, "core", allow_import_path)
    for method in ("initial_state", "step", "replay"):
        if not callable(getattr(found, method, None)):
            raise PluginError(f"core {name!r}: a torch module with {method}() (see evo_fastslow/plugins.py)")
    return found


def core_genes(core: type, genome: Any) -> dict[str, Any]:
    """The values of a core's own genes in a genome (its constructor's keyword arguments)."""
    return {gene.name: genome[gene.name] for gene in getattr(core, "genes", ())}
