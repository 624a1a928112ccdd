"""Run directories and archives that are not what they should be: one clear message, exit code 2,
no traceback, nothing lost. Plus the archive's schema version and its migration."""

import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import yaml

from evo_fastslow.archive import VERSION, Archive
from evo_fastslow.cli import main

TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=3", "generations=2",
        "searcher.elites=1", "search_space.ranges.episodes_per_update=[16, 32]",
        "search_space.ranges.hidden_size=[8, 16]", "cluster.workers=0"]
SETS = [a for o in TINY for a in ("--set", o)]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    assert main(["evolve", "configs/quickstart.yaml", "--out", str(run_dir), *SETS]) == 0
    return run_dir


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", *args], capture_output=True, text=True)
    return proc.returncode, proc.stderr


def test_evolve_out_naming_a_file_or_an_impossible_place(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory")
    code, err = _cli("evolve", "configs/quickstart.yaml", "--out", str(a_file), *SETS)
    assert code == 2 and f"{a_file}: --out: a directory for the run, not a file" in err and "Traceback" not in err
    code, err = _cli("evolve", "configs/quickstart.yaml", "--out", str(a_file / "below"), *SETS)
    assert code == 2 and f"--out: a directory for the run, but {a_file} is a file" in err and "Traceback" not in err
    assert a_file.read_text() == "not a directory"  # nothing lost


@pytest.mark.parametrize("command", ["inspect", "resume"])
def test_an_archive_that_is_not_a_database(tmp_path, finished_run, command):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    (run_dir / "archive.sqlite").write_text("these are not the evaluations you are looking for\n" * 50)
    code, err = _cli(command, str(run_dir))
    assert code == 2 and "archive.sqlite: file: an SQLite archive written by evo-fastslow" in err
    assert "Traceback" not in err
    assert (run_dir / "archive.sqlite").read_text().startswith("these are not")  # left as it was


def _damaged(finished_run, tmp_path, name, mutate):
    run_dir = tmp_path / name
    shutil.copytree(finished_run, run_dir)
    mutate(run_dir)
    return run_dir


def _mutations():
    """(name, function of the run directory): deletions, truncations, byte flips, garbage, config edits."""
    rng = np.random.default_rng(0)
    cases = []
    for file in ("config.yaml", "archive.sqlite", "checkpoint.json"):
        cases.append((f"delete-{file}", lambda d, f=file: (d / f).unlink()))
        cases.append((f"empty-{file}", lambda d, f=file: (d / f).write_bytes(b"")))
        cases.append((f"half-{file}", lambda d, f=file: (d / f).write_bytes((d / f).read_bytes()[:len((d / f).read_bytes()) // 2])))
        cases.append((f"directory-{file}", lambda d, f=file: ((d / f).unlink(), (d / f).mkdir())))
        cases.append((f"binary-{file}", lambda d, f=file: (d / f).write_bytes(bytes(range(256)) * 8)))
        for i in range(3):
            positions = rng.integers(0, 10_000, size=8)

            def flip(d, f=file, positions=positions):
                data = bytearray((d / f).read_bytes())
                for p in positions % len(data):
                    data[p] ^= 0x5A
                (d / f).write_bytes(bytes(data))
            cases.append((f"flip{i}-{file}", flip))
    config_edits = {"population": 4, "seed": 9, "searcher": {"name": "cmaes"}, "suites": "nope",
                    "embedded_suites": [{"name": "broken"}], "schema": "evo_fastslow.run/99", "budget": [1, 2]}
    for key, value in config_edits.items():
        def edit(d, key=key, value=value):
            data = yaml.safe_load((d / "config.yaml").read_text())
            data[key] = value
            (d / "config.yaml").write_text(yaml.safe_dump(data))
        cases.append((f"config-{key}", edit))
    cases.append(("checkpoint-generation-text", lambda d: (d / "checkpoint.json").write_text('{"generation": "x"}')))
    cases.append(("checkpoint-digest-wrong", lambda d: (d / "checkpoint.json").write_text(
        '{"generation": 0, "digest": "0000", "searcher": "ga"}')))
    cases.append(("archive-newer-schema", lambda d: sqlite3.connect(d / "archive.sqlite").execute(
        "PRAGMA user_version = 99").connection.close()))
    cases.append(("archive-genes-not-json", lambda d: _sql(d, "UPDATE genomes SET genes = '{oops' WHERE id = 0")))
    cases.append(("archive-config-not-json", lambda d: _sql(d, "UPDATE run SET value = '[' WHERE key = 'config'")))
    cases.append(("archive-foreign-tables", lambda d: _sql(d, "DROP TABLE generations")))
    return cases


def _sql(run_dir, statement):
    with sqlite3.connect(run_dir / "archive.sqlite") as db:
        db.execute(statement)


@pytest.mark.parametrize("name, mutate", _mutations(), ids=[name for name, _ in _mutations()])
def test_damaged_run_directories_fail_clearly(finished_run, tmp_path, capsys, name, mutate):
    """inspect and resume on a damaged run directory: success, or one message with exit code 2; never
    a traceback. In-process, so any exception that escapes fails the test."""
    run_dir = _damaged(finished_run, tmp_path, name, mutate)
    for command in ("inspect", "resume"):
        code = main([command, str(run_dir)])
        err = capsys.readouterr().err
        assert code in (0, 2), (command, err)
        if code == 2:  # one error line (resume may have told its plan first)
            lines = [line for line in err.splitlines() if not line.startswith("plan: ")]
            assert len(lines) == 1 and lines[0].startswith("evo-fastslow: error: ") and str(run_dir) in err, err


def test_a_resumed_config_must_match_the_archive(finished_run, tmp_path, capsys):
    run_dir = _damaged(finished_run, tmp_path, "edited", lambda d: None)
    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    data["search_space"]["ranges"]["hidden_size"] = [8, 12]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data))
    assert main(["resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "config.yaml: search_space.ranges.hidden_size: the value this run was started with ([8, 16])" in err
    data["search_space"]["ranges"]["hidden_size"] = [8, 16]
    data["generations"] = 3  # extending a run is what resume is for
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data))
    assert main(["resume", str(run_dir)]) == 0
    with Archive(run_dir / "archive.sqlite") as archive:
        assert len(list(archive.generation_summaries())) == 3


def test_an_archive_of_schema_version_1_is_migrated(finished_run, tmp_path):
    run_dir = _damaged(finished_run, tmp_path, "old", lambda d: None)
    with sqlite3.connect(run_dir / "archive.sqlite") as db:  # as version 1 wrote it: no fingerprints, no times
        for column in ("fingerprint", "started_at", "finished_at", "replicates", "ci_low", "ci_high", "rung",
                       "decision"):
            db.execute(f"ALTER TABLE evaluations DROP COLUMN {column}")
        db.execute("DROP TABLE fingerprints")
        db.execute("DROP TABLE trials")
        db.execute("PRAGMA user_version = 0")
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        evaluations = archive.evaluations()
        assert len(evaluations) == 6 and {e.fingerprint for e in evaluations.values()} == {""}
        assert {e.started_at for e in evaluations.values()} == {0.0} and archive.utilisation() is None
        assert {(e.replicates, e.rung) for e in evaluations.values()} == {(1, 0)}  # one lifetime each
        assert archive.fingerprint_counts() == {"": 6}
    assert sqlite3.connect(run_dir / "archive.sqlite").execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_an_archive_of_a_newer_version_is_refused(finished_run, tmp_path, capsys):
    run_dir = _damaged(finished_run, tmp_path, "new", lambda d: _sql(d, f"PRAGMA user_version = {VERSION + 1}"))
    assert main(["inspect", str(run_dir)]) == 2
    assert f"schema version: at most {VERSION} (written by a newer evo-fastslow, version {VERSION + 1}: upgrade)" in \
        capsys.readouterr().err
