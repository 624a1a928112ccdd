"""Damaged archives (a disk error, a copy cut short, a hand edit): inspect, report and export leave the
damaged rows out and say how many; resume refuses, naming the table and row; `check` reports the state of
a run directory without changing it. Never a traceback."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run

ROOT = Path(__file__).resolve().parents[1]
DAMAGE = {  # what a disk error, a cut copy or a hand edit leaves: (SQL, the table and row named)
    "genes a number": ("UPDATE genomes SET genes = '5' WHERE id = 3", "genomes row 3"),
    "genes a list": ("UPDATE genomes SET genes = '[1, 2]' WHERE id = 4", "genomes row 4"),
    "bytes not UTF-8": ("UPDATE evaluations SET metrics = CAST(X'7B2261223A20FF' AS TEXT) WHERE genome_id = 2",
                        "evaluations row 2"),
    "JSON cut short": ("UPDATE evaluations SET scores = '{\"bandit-indep' WHERE genome_id = 1", "evaluations row 1"),
    "a trial's outcome cut short": ("UPDATE trials SET outcome = '{\"status\": \"o' WHERE rowid = 1", "trials row"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    Run(load_config(ROOT / "configs" / "quickstart.yaml", [
        "budget.train_env_steps=6000", "budget.test_episodes=10", "population=4", "generations=2",
        "cluster.workers=0", "search_space.ranges.hidden_size=[8, 16]"]), run).start()
    return run


def _content(run: Path) -> list[str]:
    db = sqlite3.connect(run / "archive.sqlite")
    db.text_factory = bytes  # the damaged bytes as they are
    try:
        return [repr(row) for table in ("genomes", "evaluations", "trials", "run")
                for row in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evo_fastslow.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_row_is_left_out_by_readers_and_refused_by_resume(finished, tmp_path, damage):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    sql, named = DAMAGE[damage]
    with sqlite3.connect(run / "archive.sqlite") as db:
        db.execute(sql)
    readers = [["inspect", str(run)]]
    if damage in ("genes a number", "bytes not UTF-8"):  # the report's and export's own parsing paths
        readers += [["report", str(run), "-o", str(tmp_path / "r.html")], ["export", str(run), "-o", str(tmp_path)]]
    for command in readers:
        proc = _cli(*command)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert f"{run / 'archive.sqlite'}: damaged rows left out (" in proc.stderr, (command, proc.stderr)
    before = _content(run)
    resumed = _cli("resume", str(run))
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr, resumed.stderr
    assert f"{run / 'archive.sqlite'}: {named}" in resumed.stderr and "damaged" in resumed.stderr, resumed.stderr
    checked = _cli("check", str(run))
    assert checked.returncode == 2 and "archive.sqlite   DAMAGED" in checked.stdout, checked.stdout
    assert _content(run) == before  # neither resume nor check changed a row


def test_check_reports_an_intact_run_directory(finished):
    proc = _cli("check", str(finished))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["config.yaml", "ok"], ["archive.sqlite", "ok"],
                                                    ["checkpoint.json", "ok"], ["weights", "ok"]]
    assert "8 genomes, 8 evaluations" in lines[1] and "generation 2 finished" in lines[2]
