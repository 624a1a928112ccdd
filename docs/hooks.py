"""mkdocs hooks: the reference tables are generated from the code at build time, never written twice.

A page asks for one with a marker line: `<!-- generated: run-config -->` (every run-config field, from the
pydantic descriptions), `<!-- generated: suite -->` (every fitness-suite field), `<!-- generated: genes -->`
(the gene table, from the search space) or `<!-- generated: searchers -->` (each searcher's settings, as
`evo-fastslow searchers` prints them).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation holds (directly, optional or in a union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _type_name(annotation: Any) -> str:
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    return re.sub(r"typing\.|<class '([^']+)'>", lambda m: m.group(1) or "", text).replace("NoneType", "None")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def fields_table(model: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()) -> list[str]:
    """One row per leaf field (nested models flattened to dotted names)."""
    rows = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in skip:
            continue
        nested = _models(info.annotation)
        if nested and key != "searcher":
            if info.description:
                rows.append(f"| `{prefix}{key}` | section | | {_cell(info.description)} |")
            for sub in nested:
                rows += fields_table(sub, f"{prefix}{key}.")
            continue
        default = "required" if info.is_required() else f"`{info.get_default(call_default_factory=True)!r}`"
        kind = "see [Searchers](searchers.md)" if key == "searcher" else f"`{_cell(_type_name(info.annotation))}`"
        rows.append(f"| `{prefix}{key}` | {kind} | {_cell(default)} | {_cell(info.description or '')} |")
    return rows


def run_config() -> str:
    from evo_fastslow.evolution.config import RunConfig

    return "\n".join(["| field | type | default | what it means |", "|---|---|---|---|",
                      *fields_table(RunConfig, skip=("embedded_suites",))])


def suite() -> str:
    from evo_fastslow.suite import FitnessSuite

    return "\n".join(["| field | type | default | what it means |", "|---|---|---|---|", *fields_table(FitnessSuite)])


def genes() -> str:
    from evo_fastslow.genome import SEARCH_SPACE

    rows = ["| gene | values | default | what it is |", "|---|---|---|---|"]
    for gene in SEARCH_SPACE.genes.values():
        rows.append(f"| `{gene.name}` | {_cell(gene.describe())} | `{gene.default!r}` | {_cell(gene.doc)} |")
    return "\n".join(rows)


def searchers() -> str:
    from evo_fastslow.evolution.searchers.registry import SHIPPED, reference

    return reference(list(SHIPPED)).replace("## `", "### `")


GENERATORS = {"run-config": run_config, "suite": suite, "genes": genes, "searchers": searchers}


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


def on_files(files: Any, config: Any) -> Any:
    """The studies (`studies/*/README.md` and their figures) join the site where they live in the repository,
    so their own relative links hold; they are written once, beside their scripts."""
    from pathlib import Path

    from mkdocs.structure.files import File

    root = Path(config["config_file_path"]).parent
    for path in sorted((root / "studies").rglob("*")):
        if path.suffix in (".md", ".svg") and path.is_file():
            files.append(File(str(path.relative_to(root)), str(root), config["site_dir"], config["use_directory_urls"]))
    return files
