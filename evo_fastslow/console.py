"""Output that reads well in a terminal and in a log.

On a terminal, rich as usual: live bars, tables fitted to the window. Off one (a batch job's log,
`| tee`, `| cat`), rich would wrap every line at 80 columns and cut table cells ("bandit-ind…"), and
its transient live bars would leave nothing behind. So there `make_console` never wraps or cuts, and
`LogProgress` prints its bars as plain lines, at most every `every` seconds and once more at the end.
A notebook keeps rich's own display.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID
from rich.text import Text

LOG_WIDTH = 1000  # off a terminal: wide enough that no table is squeezed; tables do not expand to it


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that does not wrap or cut lines when the stream is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    probe = Console(file=stream)
    if probe.is_terminal or probe.is_jupyter:
        return Console(stderr=stderr)
    width = max(LOG_WIDTH, int(os.environ.get("COLUMNS", "0") or 0))
    return Console(stderr=stderr, width=width, soft_wrap=True)


def plain(console: Console) -> bool:
    """True where live display cannot work: not a terminal, nor a notebook with ipywidgets (rich's live
    display in Jupyter needs them)."""
    if console.is_terminal:
        return False
    if console.is_jupyter:
        import importlib.util

        return importlib.util.find_spec("ipywidgets") is None
    return True


class LogProgress(Progress):
    """rich's Progress; off a terminal, plain progress lines instead of a live bar (no ANSI, no wrapping)."""

    def __init__(self, *columns: Any, every: float = 30.0, **kwargs: Any):
        super().__init__(*columns, **kwargs)
        self.plain, self.every, self._last = plain(self.console), every, 0.0

    def start(self) -> None:
        if not self.plain:
            super().start()

    def stop(self) -> None:
        if not self.plain:
            super().stop()
            return
        self.log_lines()

    def refresh(self) -> None:
        if not self.plain:
            super().refresh()

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._log_when_due()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log_when_due()

    def _log_when_due(self) -> None:
        if self.plain and time.monotonic() - self._last >= self.every:
            self.log_lines()

    def log_lines(self) -> None:
        """One plain line per visible task: its columns' text, the bar itself left out."""
        self._last = time.monotonic()
        for task in self.tasks:
            if not task.visible:
                continue
            parts = []
            for column in self.columns:
                if isinstance(column, BarColumn):
                    continue
                rendered = Text.from_markup(column.format(task=task)) if isinstance(column, str) else column(task)
                if isinstance(rendered, Text):  # a spinner or other drawing has no plain form
                    parts.append(rendered.plain)
            self.console.print(" ".join(p for p in parts if p), markup=False, highlight=False, soft_wrap=True)
