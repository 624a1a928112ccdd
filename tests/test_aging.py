"""Asynchronous (aging) evolution: the archive depends on the config and seed only — not on the number
of workers, on the order results arrive in, or on a kill and resume — and the searcher works."""

import random
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from evo_fastslow.evolution.searchers.aging import AgingEvolution, AgingSettings
from evo_fastslow.evolution.searchers.base import SearchContext
from evo_fastslow.evolution.searchers.check import drive
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.loop import Run
from evo_fastslow.evolution.drivers.steady import decided_when_proposed, ready
from evo_fastslow.genome import SEARCH_SPACE
from runs import RACING, kill_after_evaluations

TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=4", "generations=3",
        "evaluation.retest=null",  # the main job's re-test adds lifetimes at the end: tests/test_retest.py
        "searcher.name=aging", "searcher.lag=2", "search_space.ranges.episodes_per_update=[16, 32]",
        "search_space.ranges.hidden_size=[8, 16]"]


def _snapshot(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot()


def _trials(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.trial_snapshot()


def _delayed(genes, suites, seed, task_seed, timeout):
    """The real evaluation, then a random delay: results arrive in another order each time."""
    outcome = evaluate(genes, suites, seed, task_seed, timeout)
    time.sleep(random.Random().uniform(0.0, 0.3))
    return outcome


EVALUATIONS = pytest.mark.parametrize("evaluation", [[], RACING], ids=["replicates-on-survival", "racing"])


@given(popsize=st.integers(1, 12), lag=st.integers(1, 8), index=st.integers(0, 40), contiguous=st.integers(0, 40))
def test_a_plan_sees_only_genomes_decided_whenever_it_may_open(popsize, lag, index, contiguous):
    """With trials, plan i opens as soon as the searcher is ready for proposal i. Whatever it sees must be
    decided by then, or what it decides would depend on which trials happened to arrive first. (The
    initial population opens without waiting: CI once caught two workers giving another archive.)"""
    contiguous = min(contiguous, index)  # results 0 .. contiguous - 1 are in; later ones are not proposed yet
    if ready(index, contiguous, popsize, lag):
        visible = decided_when_proposed(index, popsize, lag)
        assert all(j < contiguous for j in range(index) if visible(j, 0))


@EVALUATIONS
def test_one_worker_two_workers_and_random_delays_give_one_archive(tmp_path, evaluation):
    runs = {}
    for name, workers, fn in (("in-process", 0, evaluate), ("one", 1, evaluate), ("two", 2, evaluate),
                              ("two-delayed", 2, _delayed)):
        Run(load_config("configs/quickstart.yaml", [*TINY, *evaluation, f"cluster.workers={workers}"]),
            tmp_path / name, evaluate_fn=fn).start()
        runs[name] = _snapshot(tmp_path / name)
    first = runs["in-process"]
    assert len(first) == 12 and all(row[6] == "ok" for row in first)
    assert all(snapshot == first for snapshot in runs.values())
    trials = {name: _trials(tmp_path / name) for name in runs}
    assert all(t == trials["in-process"] for t in trials.values()) and len(trials["in-process"]) > 12
    origins = [row[4] for row in first]
    assert origins[:4] == ["random"] * 4 and set(origins[4:]) == {"mutation"}
    parents = [eval(row[5]) for row in first[4:]]  # noqa: S307 - JSON lists of ints
    assert all(len(p) == 1 and p[0] <= index + 4 - 2 for index, p in enumerate(parents))  # i - lag at most
    workers = {r[0] for r in sqlite3.connect(tmp_path / "two" / "archive.sqlite").execute(
        "SELECT DISTINCT worker FROM evaluations")}
    assert len(workers) == 2


@EVALUATIONS
def test_killed_and_resumed_gives_the_same_archive(tmp_path, evaluation):
    reference = tmp_path / "reference"
    overrides = [*TINY, *evaluation, "cluster.workers=0", "budget.train_env_steps=24000"]
    Run(load_config("configs/quickstart.yaml", overrides), reference).start()
    killed = tmp_path / "killed"
    sets = [a for o in overrides for a in ("--set", o)]
    proc = subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml",
                             "--out", str(killed), *sets], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    interrupted = kill_after_evaluations(proc, killed, 6)
    assert 6 <= interrupted < 12, "the kill must land in the middle of the run"
    assert main(["resume", str(killed)]) == 0
    assert _snapshot(killed) == _snapshot(reference)
    assert _trials(killed) == _trials(reference)


def test_aging_selects_the_best_of_its_sample_from_the_lagged_window():
    """On a synthetic fitness (a known answer: larger hidden_size is better) the parent of each proposal
    is the best of its sample, drawn only from indices i - lag - P + 1 .. i - lag; and the population
    improves."""
    space = SEARCH_SPACE.restrict(ranges={"hidden_size": (8, 256)})
    config = AgingSettings(name="aging", tournament_size=3, lag=3, mutation_rate=0.3)
    searcher = AgingEvolution(config, SearchContext(space, 10, 30, 1, []))
    done = drive(searcher, searcher.context, lambda genome: float(genome["hidden_size"]), 300)
    for i, (candidate, _) in enumerate(done[10:], start=10):
        (parent,) = candidate.parents
        assert i - 3 - 10 < parent <= i - 3
    assert all(ready(i, i, 10, 3) for i in range(300))  # with every earlier result in, a proposal is ready
    assert not ready(20, 16, 10, 3)  # result 17 = 20 - lag is not in: wait
    fitness = [v for _, v in done]
    first, last = fitness[:10], fitness[290:]
    assert sum(last) / 10 > 2 * sum(first) / 10


def test_a_lag_larger_than_the_population_is_refused():
    with pytest.raises(Exception, match="searcher.lag must be at most population"):
        load_config("configs/quickstart.yaml", [*TINY, "searcher.lag=9"])


def test_each_evaluation_records_when_and_where_it_ran_and_inspect_shows_utilisation(tmp_path, capsys):
    run_dir = tmp_path / "run"
    Run(load_config("configs/quickstart.yaml", [*TINY, "cluster.workers=2"]), run_dir).start()
    with Archive(run_dir / "archive.sqlite") as archive:
        trials = list(archive.trials().values())  # each lifetime: when and where it ran
        use = archive.utilisation()
    assert trials and all(0 < t["started_at"] < t["finished_at"] for t in trials)
    assert use["workers"] == 2 and 0 < use["utilisation"] <= 1
    assert abs(use["busy_seconds"] - sum(t["finished_at"] - t["started_at"] for t in trials)) < 1e-6
    assert main(["inspect", str(run_dir)]) == 0
    assert f"worker utilisation {use['utilisation']:.0%}" in capsys.readouterr().out
