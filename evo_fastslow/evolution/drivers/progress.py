"""Progress bars of the drivers: one per generation (or for the whole steady-state run), off a terminal
plain lines instead (console.LogProgress)."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from evo_fastslow.console import LogProgress


class Bar:
    """A progress bar with one task, as a context manager yielding (progress, task)."""

    def __init__(self, console: Any, title: str, text: str, total: int = 0, done: int = 0, **fields: Any):
        self.progress = LogProgress(TextColumn(title), BarColumn(), TextColumn(text), TimeElapsedColumn(),
                                    console=console, transient=True, refresh_per_second=2)
        self.total, self.done, self.fields = total, done, fields

    def __enter__(self) -> tuple[LogProgress, Any]:
        self.progress.__enter__()
        return self.progress, self.progress.add_task("evaluations", total=self.total, completed=self.done,
                                                     **self.fields)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)
