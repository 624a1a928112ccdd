"""Numeric fingerprints in a run: workers that would compute other numbers are told apart before
anything is evaluated (a warning; `reproducibility: strict`: exit code 2), and so is a resume on a
machine that computes other numbers. Workers are real `dask worker` processes; the "other machine" is
a worker in the native numerics mode, whose probe differs as another CPU's would."""

import os
import sqlite3
import subprocess
import sys

import yaml

from dask_processes import dask_processes
from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.loop import Run
from evo_fastslow.errors import InputError
from runs import TINY, evolve




def _evolve_one(run_dir, *overrides, env=None):
    """One generation of three genomes."""
    return evolve(run_dir, "generations=1", *overrides, env=env)


def _evaluations(run_dir):
    return sqlite3.connect(run_dir / "archive.sqlite").execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]


def _trials(run_dir):
    return sqlite3.connect(run_dir / "archive.sqlite").execute("SELECT COUNT(*) FROM trials").fetchone()[0]


def test_workers_with_two_fingerprints_warn_or_stop_when_strict(tmp_path):
    with dask_processes(tmp_path, [{}, {"EVO_FASTSLOW_NUMERICS": "native"}]) as address:
        strict = _evolve_one(tmp_path / "strict", f"cluster.address={address}", "reproducibility=strict")
        assert strict.returncode == 2 and "Traceback" not in strict.stderr
        assert "reproducibility: strict: workers that compute the same numbers as the run" in strict.stderr
        assert "mode reproducible -> native" in strict.stderr or "mode native -> reproducible" in strict.stderr
        assert _evaluations(tmp_path / "strict") == 0  # stopped before anything was evaluated
        warned = _evolve_one(tmp_path / "warned", f"cluster.address={address}")
    assert warned.returncode == 0, warned.stderr
    assert "warning:" in warned.stderr and "probe " in warned.stderr
    inspected = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "inspect", str(tmp_path / "warned")],
                               capture_output=True, text=True)
    assert "more than one numeric fingerprint" in inspected.stdout
    with Archive(tmp_path / "warned" / "archive.sqlite") as archive:
        lifetimes = len(archive.trials())  # every lifetime counted once, by the fingerprint that computed it
        assert len(archive.fingerprints()) == 2 and sum(archive.fingerprint_counts().values()) == lifetimes >= 3


def test_a_resume_where_numbers_would_differ_is_named(tmp_path):
    run_dir = tmp_path / "run"
    assert _evolve_one(run_dir, "cluster.workers=0").returncode == 0
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config.update(generations=2, reproducibility="strict")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "EVO_FASTSLOW_NUMERICS": "native"}
    resumed = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "resume", str(run_dir)], capture_output=True,
                             text=True, env=env)
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr
    assert "this run was computed with another numeric fingerprint: mode reproducible -> native" in resumed.stderr
    assert _evaluations(run_dir) == 3
    config["reproducibility"] = "warn"
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    resumed = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "resume", str(run_dir)], capture_output=True,
                             text=True, env=env)
    assert resumed.returncode == 0 and "warning: this run was computed with another numeric fingerprint" in resumed.stderr
    assert _evaluations(run_dir) == 6


def test_a_worker_that_joins_later_with_another_fingerprint(tmp_path, capsys):
    """The driver's check of each arriving lifetime (a trial). The late worker is simulated by relabelling
    the outcomes of the second lifetime onwards (a stand-in: a worker joining mid-run is issue 12's test)."""
    def late_joiner(genes, suites, seed, task_seed, timeout):
        outcome = evaluate(genes, suites, seed, task_seed, timeout)
        late_joiner.calls += 1
        if late_joiner.calls > 1:
            outcome["fingerprint"] = "0123456789ab"
        return outcome
    late_joiner.calls = 0
    config = load_config("configs/quickstart.yaml", [*TINY, "generations=1", "cluster.workers=0", "reproducibility=strict"])
    try:
        Run(config, tmp_path / "strict", evaluate_fn=late_joiner).start()
        raise AssertionError("strict mode must stop")
    except InputError as err:
        assert "genome 1 was computed by" in str(err) and "fingerprint 0123456789ab" in str(err)
    assert _trials(tmp_path / "strict") == 1  # what arrived before is kept
    late_joiner.calls = 0
    config = load_config("configs/quickstart.yaml", [*TINY, "generations=1", "cluster.workers=0"])
    Run(config, tmp_path / "warn", evaluate_fn=late_joiner).start()
    assert _evaluations(tmp_path / "warn") == 3
    assert main(["inspect", str(tmp_path / "warn")]) == 0
    lifetimes = _trials(tmp_path / "warn")
    assert lifetimes > 3 and f"numeric fingerprint 0123456789ab: {lifetimes - 1} lifetimes" in capsys.readouterr().out
