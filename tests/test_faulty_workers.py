"""Faulty workers, for real: `dask worker` processes on an external scheduler, one frozen (SIGSTOP)
or killed (SIGKILL) in the middle of a run. Neither may change the archive, and a frozen worker may
not stall the run past `cluster.straggler_seconds` (its evaluation gets a backup copy elsewhere)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from dask_processes import dask_processes
from evo_fastslow.archive import Archive

TINY = ["budget.train_env_steps=48000", "budget.test_episodes=20", "population=4", "generations=2",
        "searcher.elites=1", "search_space.ranges.episodes_per_update=[16, 32]",
        "search_space.ranges.hidden_size=[8, 16]"]


def _evolve(run_dir, *overrides):
    sets = [a for o in [*TINY, *overrides] for a in ("--set", o)]
    return subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", "--out",
                             str(run_dir), *sets], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot()


def _wait_for_evaluations(run_dir, count, proc, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(run_dir / "archive.sqlite", timeout=0.1) as db:
                if db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] >= count:
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.05)


def test_a_frozen_worker_and_a_killed_worker_leave_the_archive_unchanged(tmp_path):
    reference = _evolve(tmp_path / "reference", "cluster.workers=0")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    for fault, sig in (("frozen", signal.SIGSTOP), ("killed", signal.SIGKILL)):
        workers = []
        with dask_processes(tmp_path / fault, [{}, {}], workers=workers) as address:
            started = time.time()
            proc = _evolve(tmp_path / fault / "run", f"cluster.address={address}", "cluster.straggler_seconds=4")
            _wait_for_evaluations(tmp_path / fault / "run", 1, proc)
            os.killpg(workers[0].pid, sig)  # the worker and its nanny
            code = proc.wait(timeout=300)
            elapsed = time.time() - started
        assert code == 0, proc.stderr.read()
        assert _snapshot(tmp_path / fault / "run") == _snapshot(tmp_path / "reference"), fault
        assert elapsed < 120, f"{fault}: the run stood still ({elapsed:.0f} s)"
