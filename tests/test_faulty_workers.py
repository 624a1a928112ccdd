"""Faulty workers, for real: `dask worker` processes on an external scheduler, one frozen (SIGSTOP)
or killed (SIGKILL) in the middle of a run, or frozen just after finishing an evaluation, holding an
outcome the driver has not fetched yet. None may change the archive, and a frozen worker may not stall
the run for long (its evaluation gets a backup copy elsewhere; an outcome it will not hand over is
evaluated again)."""

import os
import signal
import sqlite3
import subprocess
import time

from dask_processes import dask_processes
from distributed import Client
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


def _freeze_holding_an_outcome(address: str, driver: subprocess.Popen, worker: subprocess.Popen) -> None:
    """Pause the driver until worker w0 has finished an evaluation the driver has not fetched, then
    freeze w0 and let the driver go on: it finds the outcome done but on a worker that does not answer.
    If w0 runs nothing at the moment the driver is paused, it never will: let the driver go on a moment
    and try again."""
    def w0_tasks(dask_scheduler=None) -> dict[str, int]:
        """On the scheduler (sent by value: nested): w0's finished outcomes and its running tasks."""
        held = [key for key, task in dask_scheduler.tasks.items()
                if task.state == "memory" and any(w.name == "w0" for w in task.who_has)]
        running = [key for key, task in dask_scheduler.tasks.items()
                   if task.state == "processing" and task.processing_on is not None
                   and task.processing_on.name == "w0"]
        return {"held": len(held), "running": len(running)}

    deadline = time.time() + 120
    with Client(address, timeout=30) as client:
        while True:
            assert driver.poll() is None, "the run ended before w0 held an outcome"
            assert time.time() < deadline, "w0 finished no evaluation"
            os.kill(driver.pid, signal.SIGSTOP)
            try:
                tasks = client.run_on_scheduler(w0_tasks)
                while not tasks["held"] and tasks["running"] and time.time() < deadline:
                    time.sleep(0.05)
                    tasks = client.run_on_scheduler(w0_tasks)
                if tasks["held"]:
                    os.killpg(worker.pid, signal.SIGSTOP)
                    return
            finally:
                os.kill(driver.pid, signal.SIGCONT)
            time.sleep(0.05)  # w0 idle: the driver submits more


def test_frozen_and_killed_workers_leave_the_archive_unchanged(tmp_path):
    reference = _evolve(tmp_path / "reference", "cluster.workers=0")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    faults = {"frozen": lambda address, driver, worker: os.killpg(worker.pid, signal.SIGSTOP),
              "killed": lambda address, driver, worker: os.killpg(worker.pid, signal.SIGKILL),
              "frozen holding an outcome": _freeze_holding_an_outcome}
    for fault, inflict in faults.items():
        workers, run_dir = [], tmp_path / fault.replace(" ", "-") / "run"
        with dask_processes(run_dir.parent, [{}, {}], workers=workers) as address:
            started = time.time()
            proc = _evolve(run_dir, f"cluster.address={address}", "cluster.straggler_seconds=4")
            _wait_for_evaluations(run_dir, 1, proc)
            inflict(address, proc, workers[0])  # workers[0]: the worker w0 and its nanny
            try:
                out, err = proc.communicate(timeout=300)  # reads the pipes as it waits: they never fill
            finally:
                proc.kill()
            elapsed = time.time() - started
        assert proc.returncode == 0, err
        assert snapshot(run_dir) == snapshot(tmp_path / "reference"), fault
        assert elapsed < 120, f"{fault}: the run stood still ({elapsed:.0f} s)"


def test_a_frozen_worker_costs_seconds_with_the_default_config(tmp_path):
    """No straggler setting: the adaptive limit (a multiple of the running median of this run's seconds per
    unit of expected cost, at least 10 s) gives the frozen worker's trial a backup copy."""
    reference = _evolve(tmp_path / "reference", "cluster.workers=0")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    elapsed = {}
    for fault in ("unfrozen", "frozen"):
        workers, run_dir = [], tmp_path / fault / "run"
        with dask_processes(run_dir.parent, [{}, {}], workers=workers) as address:
            started = time.time()
            proc = _evolve(run_dir, f"cluster.address={address}")
            _wait_for_evaluations(run_dir, 1, proc)
            if fault == "frozen":
                os.killpg(workers[0].pid, signal.SIGSTOP)
            try:
                out, err = proc.communicate(timeout=300)
            finally:
                proc.kill()
            elapsed[fault] = time.time() - started
        assert proc.returncode == 0, err
        assert snapshot(run_dir) == snapshot(tmp_path / "reference"), fault
    print("frozen-worker run, seconds:", elapsed)
    assert elapsed["frozen"] < elapsed["unfrozen"] + 60, elapsed
