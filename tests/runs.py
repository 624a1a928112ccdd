"""Shared by the tests that run whole evolutions: a tiny quickstart, started through the CLI in a
process of its own, and the archive's comparable content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from evo_fastslow.archive import Archive

TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=3", "generations=2",
        "searcher.elites=1", "search_space.ranges.episodes_per_update=[16, 32]",
        "search_space.ranges.hidden_size=[8, 16]"]


def evolve_command(run_dir: Path, *overrides: str, tiny: list[str] = TINY) -> list[str]:
    sets = [a for o in [*tiny, *overrides] for a in ("--set", o)]
    return [sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", "--out", str(run_dir), *sets]


def evolve(run_dir: Path, *overrides: str, env: dict[str, str] | None = None, tiny: list[str] = TINY
           ) -> subprocess.CompletedProcess:
    return subprocess.run(evolve_command(run_dir, *overrides, tiny=tiny), capture_output=True, text=True, env=env,
                          timeout=600)


def snapshot(run_dir: Path) -> list[tuple]:
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot()
