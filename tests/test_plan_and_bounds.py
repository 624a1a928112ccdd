"""Sizes with bounds, and a run's cost told before any work (evolution/plan.py): absurd sizes are refused
naming the field and the bound; the plan is printed before the first lifetime, kept in the archive, and a
run above `budget.ceiling_core_hours` starts only with --yes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evo_fastslow.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=4", "generations=3",
        "search_space.ranges.episodes_per_update=[16, 32]", "search_space.ranges.hidden_size=[8, 16]"]


@pytest.mark.parametrize("sets, field, bound", [
    (["population=1000000000000000000000000000000"], "population", "100000"),
    (["generations=100000000"], "generations", "100000"),
    (["budget.train_env_steps=1000000000000000000000000000000"], "budget.train_env_steps", "100000000000"),
    (["budget.test_episodes=10000000000"], "budget.test_episodes", "10000000"),
    (["evaluation.max_replicates=1000000"], "evaluation.max_replicates", "1000"),
    (["cluster.workers=100000"], "cluster.workers", "1024"),
    (["searcher={name: aging, lag: 10000000}"], "searcher.lag", "100000"),
])
def test_absurd_sizes_are_refused_naming_the_field_and_the_bound(sets, field, bound):
    args = [a for s in sets for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", *args,
                           "--out", "/nonexistent/never"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"configs/quickstart.yaml: {field}: " in proc.stderr and bound in proc.stderr, proc.stderr


def test_an_absurd_suite_budget_is_refused_naming_the_file_and_field(tmp_path):
    suite = yaml.safe_load((ROOT / "fitness" / "bandit-independent.yaml").read_text())
    suite["lifetime"]["train_env_steps"] = 10**30
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(suite))
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", "--set",
                           f"suites=[{path}]", "--set", "budget.train_env_steps=null", "--out", "/nonexistent/never"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{path}: lifetime.train_env_steps: " in proc.stderr and "100000000000" in proc.stderr, proc.stderr


def test_the_plan_is_told_first_and_a_run_above_the_ceiling_needs_yes(tmp_path):
    sets = [a for s in [*TINY, "cluster.workers=0", "budget.ceiling_core_hours=0.000001"] for a in ("--set", s)]
    command = [sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml", *sets]
    refused = subprocess.run([*command, "--out", str(tmp_path / "refused")], capture_output=True, text=True,
                             cwd=ROOT, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "plan: at most 48 lifetimes, 0.312M env-steps, about" in refused.stderr, refused.stderr
    assert "budget.ceiling_core_hours: a run planned within 1e-06 core-hours" in refused.stderr
    assert not (tmp_path / "refused" / "archive.sqlite").exists()  # nothing started
    started = subprocess.run([*command, "--out", str(tmp_path / "run"), "--yes"], capture_output=True, text=True,
                             cwd=ROOT, timeout=300)
    assert started.returncode == 0, started.stderr
    assert started.stderr.index("plan: at most 48 lifetimes") < started.stderr.index("generation 1/3")
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        planned, spent = archive.meta("plan"), archive.spending()["env_steps"]
    assert planned["lifetimes"] == 48 and planned["env_steps"] == 312000 and planned["core_hours"] > 0
    assert 0 < spent <= planned["env_steps"]
    assert f"spent {spent / 1e6:,.4g}M env-steps of the 0.312M planned at most" in started.stderr
    import evo_fastslow as ef

    assert ef.open_run(tmp_path / "run").plan == {**planned, "spent_env_steps": spent}
