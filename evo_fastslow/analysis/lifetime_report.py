"""Tables of a lifetime's test: the task's own analysis (stay probabilities, accuracy by trial, recurring
vs novel) for the agent beside every baseline. Rendered from the analysis dicts' shapes, so a new
task's figures show without new code here."""

from __future__ import annotations

from numbers import Number
from typing import Any

from rich.table import Table


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _is_series(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, Number) for v in value)


def analysis_tables(analyses: dict[str, dict[str, Any]]) -> list[Table]:
    """One table per figure of the analysis; rows are the policies (agent first)."""
    if not analyses:
        return []
    first = next(iter(analyses.values()))
    tables, scalars = [], [k for k, v in first.items() if isinstance(v, Number)]
    for key, sample in first.items():
        title = key.replace("_", " ")
        if isinstance(sample, dict) and all(isinstance(v, Number) for v in sample.values()):
            table = Table(title=title)
            table.add_column("policy")
            for column in sample:
                table.add_column(column.replace("_", " "), justify="right")
            for name, analysis in analyses.items():
                table.add_row(name, *(_fmt(analysis[key].get(c, float("nan"))) for c in sample))
            tables.append(table)
        elif _is_series(sample) or (isinstance(sample, dict) and all(_is_series(v) for v in sample.values())):
            rows = [(name, analysis[key]) for name, analysis in analyses.items()]
            if isinstance(sample, dict):
                rows = [(f"{name}, {sub}", series) for name, value in rows for sub, series in value.items()]
            width = max((len(series) for _, series in rows), default=0)
            table = Table(title=f"{title} (by trial)")
            table.add_column("policy")
            for trial in range(width):
                table.add_column(str(trial + 1), justify="right")
            for name, series in rows:
                table.add_row(name, *(_fmt(v) for v in series))
            tables.append(table)
    if scalars:
        table = Table(title="summary")
        table.add_column("policy")
        for key in scalars:
            table.add_column(key.replace("_", " "), justify="right")
        for name, analysis in analyses.items():
            table.add_row(name, *(_fmt(analysis.get(key)) for key in scalars))
        tables.append(table)
    return tables
