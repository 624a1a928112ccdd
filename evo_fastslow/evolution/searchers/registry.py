"""Which searcher a run config names: a shipped one, an import path, or an installed entry point.

Only the name a run config gives is imported (plugins.load_plugin): a genome file or a run directory's
archive cannot bring code in; a resumed run reads its searcher from its own resolved config, so a plug-in
that is gone is one error naming it. Searchers run on the driver only: workers never import them.
The searchers that wrap Optuna and nevergrad are optional extras, named when missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from importlib import metadata
from typing import Any, Mapping

from pydantic import ValidationError

from evo_fastslow.evolution.searchers.base import SearcherSettings
from evo_fastslow.plugins import LOADED, PluginError, installed, is_import_path, load_plugin

GROUP = "evo_fastslow.searchers"
_HERE = "evo_fastslow.evolution.searchers"
# name: (module:Class, the optional package it wraps, or None)
SHIPPED: dict[str, tuple[str, str | None]] = {
    "ga": (f"{_HERE}.ga:GeneticAlgorithm", None),
    "cmaes": (f"{_HERE}.evotorch:CMAES", None),
    "snes": (f"{_HERE}.evotorch:SNES", None),
    "aging": (f"{_HERE}.aging:AgingEvolution", None),
    "map-elites": (f"{_HERE}.map_elites:MapElites", None),
    "nsga2": (f"{_HERE}.nsga2:NSGA2", None),
    "guided": (f"{_HERE}.guided:GuidedEvolution", None),
    "tpe": (f"{_HERE}.optuna_samplers:TPE", "optuna"),
    "optuna": (f"{_HERE}.optuna_samplers:OptunaSampler", "optuna"),
    "de": (f"{_HERE}.nevergrad_optimizers:DE", "nevergrad"),
    "ngopt": (f"{_HERE}.nevergrad_optimizers:NGOpt", "nevergrad"),
    "nevergrad": (f"{_HERE}.nevergrad_optimizers:NevergradOptimizer", "nevergrad"),
}
# the libraries whose numbers a shipped searcher's proposals depend on (their versions kept in the archive)
LIBRARIES = {"cmaes": "evotorch", "snes": "evotorch", "map-elites": "ribs", "nsga2": "pymoo", "guided": "scikit-learn"}
STYLES = ("generational", "steady")


class SearcherConfigError(ValueError):
    """A `searcher:` section that names no usable searcher or gives it a field it does not take."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def searcher_class(name: str) -> type:
    """The class a searcher name points to, checked against the interface (evolution/searchers/base.py)."""
    if name in SHIPPED:
        path, package = SHIPPED[name]
        if package is not None and not _installed(package):
            raise SearcherConfigError("name", f"searcher {name} wraps {package}, which is not installed: "
                                              f"pip install 'evo-fastslow[{package}]'")
        module, _, attribute = path.partition(":")
        found = getattr(importlib.import_module(module), attribute)
    else:
        try:
            found = load_plugin(GROUP, name, "searcher")
        except PluginError as err:
            shipped = "" if is_import_path(name) else f" (shipped: {', '.join(SHIPPED)})"
            raise SearcherConfigError("name", f"{err}{shipped}") from None
    _check_interface(name, found)
    return found


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ValueError:  # in sys.modules as None: hidden on purpose
        return False


def _check_interface(name: str, found: Any) -> None:
    problems = []
    if not isinstance(found, type):
        problems.append("a class")
    elif getattr(found, "style", None) not in STYLES:
        problems.append("a class attribute style = 'generational' or 'steady'")
    else:
        problems += [f"a method {m}()" for m in ("ask", "tell") if not callable(getattr(found, m, None))]
        config = getattr(found, "Config", SearcherSettings)
        if not (isinstance(config, type) and issubclass(config, SearcherSettings)):
            problems.append("a Config that subclasses evo_fastslow.evolution.searchers.base.SearcherSettings")
    if problems:
        raise SearcherConfigError("name", f"searcher {name!r}: {', '.join(problems)} (see "
                                          "evo_fastslow/evolution/searchers/base.py), not {found!r}")


def settings_of(data: Any) -> SearcherSettings:
    """The settings a `searcher:` mapping gives, validated by the searcher it names."""
    if isinstance(data, SearcherSettings):
        return data
    if not isinstance(data, Mapping):
        raise SearcherConfigError("(section)", "a mapping with at least `name`")
    name = data.get("name", "ga")
    if not isinstance(name, str) or not name:
        raise SearcherConfigError("name", "a searcher name (shipped: " + ", ".join(SHIPPED) + ")")
    config = getattr(searcher_class(name), "Config", SearcherSettings)
    try:
        return config.model_validate({**data, "name": name})
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(section)"
        if first["type"] == "extra_forbidden":
            own = [f for f in config.model_fields if f != "name"]
            raise SearcherConfigError(field, f"a field searcher {name} does not take (its fields: "
                                             f"{', '.join(own) or 'none'}); to switch searcher, give the whole "
                                             f"section: --set 'searcher={{name: ...}}'") from None
        raise SearcherConfigError(field, first["msg"].removeprefix("Value error, ")) from None


def fields_it_takes(data: Any) -> Any:
    """A `searcher:` mapping with only the fields the searcher it names takes: how a run directory's flat
    bag from before per-searcher settings is read (every searcher ignored most of it), and what survives
    `--set searcher.name=X` switching searcher."""
    config = _settings_class(data)
    return data if config is None else {k: v for k, v in data.items() if k in config.model_fields}


def with_defaults(data: Any) -> Any:
    """A `searcher:` mapping with every field its searcher takes, the missing ones at their defaults. A field
    added to a searcher must default to what the searcher did before it (`initial_design: random`), so that a
    run directory written before it resumes as it started."""
    config = _settings_class(data)
    if config is None:
        return data
    defaults = {k: f.get_default(call_default_factory=True) for k, f in config.model_fields.items()
                if k not in data and not f.is_required()}
    return {**data, **json.loads(json.dumps(defaults))}


def _settings_class(data: Any) -> type | None:
    """The settings class of the searcher a `searcher:` mapping names; None where validation will name
    what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("name", "ga"), str):
        return None
    try:
        return getattr(searcher_class(data.get("name", "ga")), "Config", SearcherSettings)
    except SearcherConfigError:
        return None


def provenance(name: str) -> dict[str, str]:
    """What the archive records of a run's searcher: its class and the versions that make its numbers."""
    cls = searcher_class(name)
    found = {"name": name, "class": f"{cls.__module__}:{cls.__qualname__}"}
    if name in SHIPPED:
        found["version"] = f"evo-fastslow {metadata.version('evo-fastslow')}"
        package = SHIPPED[name][1] or LIBRARIES.get(name)
        if package:
            found["library"] = f"{package} {metadata.version(package)}"
    else:
        found["version"] = LOADED.get(name, "")
    return found


def available_searchers() -> list[str]:
    """Shipped names and installed entry points (metadata only: nothing is imported)."""
    return [*SHIPPED, *[n for n in installed(GROUP) if n not in SHIPPED]]


def reference(names: list[str] | None = None) -> str:
    """The `searcher:` settings of each searcher as Markdown, from their pydantic fields (the docs' reference)."""
    lines = []
    for name in names or available_searchers():
        try:
            cls = searcher_class(name)
        except SearcherConfigError as err:
            lines += [f"## `{name}`", "", f"Not available here: {err.message}", ""]
            continue
        config = getattr(cls, "Config", SearcherSettings)
        doc = (cls.__doc__ or importlib.import_module(cls.__module__).__doc__ or "").strip().split("\n\n")[0]
        style = "steady-state or generational (`mode`)" if "mode" in config.model_fields else cls.style
        lines += [f"## `{name}`", "", " ".join(doc.split()), "", f"Style: {style}. Class: `{cls.__module__}:"
                  f"{cls.__qualname__}`.", "", "| field | default | what it means |", "|---|---|---|"]
        for field, info in config.model_fields.items():
            if field != "name":
                default = info.get_default(call_default_factory=True)
                lines.append(f"| `{field}` | `{default!r}` | {info.description or ''} |")
        lines.append("")
    return "\n".join(lines)
