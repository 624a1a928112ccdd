"""Shared by the tests that run whole evolutions: a tiny quickstart, started through the CLI in a
process of its own, and the archive's comparable content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from evo_fastslow.archive import Archive

TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=3", "generations=2",
        "evaluation.retest=null",  # the main job's re-test adds lifetimes at the end: tests/test_retest.py
        "searcher.elites=1", "search_space.ranges.episodes_per_update=[16, 32]",
        "search_space.ranges.hidden_size=[8, 16]"]


# the racing combination (the default before replicates on survival): the determinism tests run it too
RACING = ["evaluation.first_replicates=null", "evaluation.racing={incumbents: 3, test: t, alpha: 0.2}"]


def evolve_command(run_dir: Path, *overrides: str, tiny: list[str] = TINY) -> list[str]:
    sets = [a for o in [*tiny, *overrides] for a in ("--set", o)]
    return [sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", "--out", str(run_dir), *sets]


def evolve(run_dir: Path, *overrides: str, env: dict[str, str] | None = None, tiny: list[str] = TINY
           ) -> subprocess.CompletedProcess:
    return subprocess.run(evolve_command(run_dir, *overrides, tiny=tiny), capture_output=True, text=True, env=env,
                          timeout=600)


def snapshot(run_dir: Path) -> list[tuple]:
    """Every genome with its evaluation, then every trial (evolution/policy/trials.py), without timings."""
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot() + archive.trial_snapshot()


def kill_after_evaluations(proc: subprocess.Popen, run_dir: Path, count: int, limit: float = 120,
                           table: str = "evaluations") -> int:
    """SIGKILL `proc` once its archive holds `count` evaluations (or rows of `table`: trials); returns how
    many it holds then."""
    import os
    import signal
    import sqlite3
    import time

    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        try:
            done = sqlite3.connect(run_dir / "archive.sqlite", timeout=0.1).execute(
                f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.Error:
            done = 0
        if done >= count:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return sqlite3.connect(run_dir / "archive.sqlite").execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
