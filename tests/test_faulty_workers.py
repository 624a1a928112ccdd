"""Faulty workers, for real: `dask worker` processes on an external scheduler, one frozen (SIGSTOP)
or killed (SIGKILL) in the middle of a run. Neither may change the archive, and a frozen worker may
not stall the run past `cluster.straggler_seconds` (its evaluation gets a backup copy elsewhere)."""

import os
import signal
import sqlite3
import subprocess
import time

from dask_processes import dask_processes
from runs import TINY, evolve_command, snapshot





LONGER = [*TINY, "budget.train_env_steps=48000", "population=4"]  # lifetimes long enough to interrupt


def _evolve(run_dir, *overrides):
    return subprocess.Popen(evolve_command(run_dir, *overrides, tiny=LONGER), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


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
        assert snapshot(tmp_path / fault / "run") == snapshot(tmp_path / "reference"), fault
        assert elapsed < 120, f"{fault}: the run stood still ({elapsed:.0f} s)"
