"""The outer loop: determinism across workers, kill-and-resume, failure as data, searchers, configs."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run
from evo_fastslow.genome import SEARCH_SPACE, Categorical, load_genomes
from evo_fastslow.lifetime import run as run_module
from evo_fastslow.suite import WORST_FITNESS
from runs import RACING

TINY = ["budget.train_env_steps=16000", "budget.test_episodes=50", "population=4", "generations=2",
        "evaluation.retest=null",  # the main job's re-test adds lifetimes at the end: tests/test_retest.py
        "search_space.ranges.episodes_per_update=[16, 32]", "search_space.ranges.hidden_size=[8, 24]"]


def _config(tmp_path, *overrides, workers=0):
    return load_config("configs/quickstart.yaml", [*TINY, f"cluster.workers={workers}", *overrides])


def _run(config, run_dir, **kwargs):
    Run(config, run_dir, **kwargs).start()
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot()


def _trials(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.trial_snapshot()


EVALUATIONS = pytest.mark.parametrize("evaluation", [[], RACING], ids=["replicates-on-survival", "racing"])


@EVALUATIONS
def test_one_worker_and_two_workers_give_the_same_archive(tmp_path, evaluation):
    one = _run(_config(tmp_path, *evaluation, workers=1), tmp_path / "one")
    two = _run(_config(tmp_path, *evaluation, workers=2), tmp_path / "two")
    assert len(one) == 8 and all(row[6] == "ok" for row in one)
    assert one == two
    trials = _trials(tmp_path / "one")
    assert trials == _trials(tmp_path / "two")
    assert {row[3] for row in trials} == {0, 1} and max(row[4] for row in trials) >= 1  # rungs, replicates
    workers = {r[0] for r in sqlite3.connect(tmp_path / "two" / "archive.sqlite").execute(
        "SELECT DISTINCT worker FROM evaluations")}
    assert len(workers) == 2  # both workers did evaluations
    with Archive(tmp_path / "one" / "archive.sqlite") as archive:  # what inspect ranks: each genome once,
        ranked = archive.ranked()  # on all the evidence it gathered (an elite's later, replicated record)
        every = list(archive.evaluations().items())
        genomes = {r.id: r for r in archive.genomes()}
    assert len({json.dumps(r.genes, sort_keys=True) for r, _ in ranked}) == len(ranked)
    for record, evaluation in ranked:
        same = [e for i, e in every if genomes[i].genes == record.genes and e.status == "ok"]
        assert evaluation.replicates == max(e.replicates for e in same)
    if not evaluation:  # replicates on survival: an elite's first record (one draw) is superseded
        assert any(e.replicates > 1 for _, e in ranked) and len(ranked) < len(every)


def test_in_process_equals_cluster_and_generations_share_tasks(tmp_path):
    snapshot = _run(_config(tmp_path), tmp_path / "a")
    assert snapshot == _run(_config(tmp_path, workers=2), tmp_path / "b")
    origins = [row[4] for row in snapshot]
    assert origins[:4] == ["random"] * 4 and origins[4:6] == ["elite", "elite"]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=0.1) as conn:
            return conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


@EVALUATIONS
def test_sigkill_mid_generation_then_resume_gives_the_uninterrupted_archive(tmp_path, evaluation):
    overrides = ["generations=3", "budget.train_env_steps=48000", *evaluation]
    config_path = tmp_path / "run.yaml"
    data = yaml.safe_load(open("configs/quickstart.yaml"))
    data["suites"] = [str(Path("fitness/bandit-independent.yaml").resolve())]
    config_path.write_text(yaml.safe_dump(data))
    sets = [a for o in [*TINY, "cluster.workers=0", *overrides] for a in ("--set", o)]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", str(config_path),
                             "--out", str(killed), *sets], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _count(killed / "archive.sqlite") < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = _count(killed / "archive.sqlite")
    assert 6 <= interrupted_at < 12, "the kill must land in the middle of the run"
    resumed = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "resume", str(killed)],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = _run(load_config(config_path, [*TINY, "cluster.workers=0", *overrides]), tmp_path / "straight")
    with Archive(killed / "archive.sqlite") as archive:
        assert archive.snapshot() == straight
        assert archive.trial_snapshot() == _trials(tmp_path / "straight")
        assert len(archive.evaluations()) == 12  # none lost, none twice


def test_raised_and_diverged_evaluations_are_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    real_gradients, real_lifetime = run_module.compute_gradients, run_module.train_and_test

    def poisoned_gradients(agent, task, episodes, genome, *args):
        rollout, parts = real_gradients(agent, task, episodes, genome, *args)
        if genome["core"] == "gru":
            parts.total = parts.total * float("nan")
        return rollout, parts

    def raising_lifetime(genome, *args, **kwargs):
        if genome["core"] == "feedforward":
            raise RuntimeError("boom in user code")
        return real_lifetime(genome, *args, **kwargs)

    monkeypatch.setattr(run_module, "compute_gradients", poisoned_gradients)
    monkeypatch.setattr(run_module, "train_and_test", raising_lifetime)
    config = _config(tmp_path, "population=6")
    run = Run(config, tmp_path / "run")
    history = run.start()
    assert len(history) == 2
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        genomes = {g.id: g for g in archive.genomes()}
        evaluations = archive.evaluations()
    assert len(evaluations) == 12
    assert all(stats.mean > WORST_FITNESS / 2 for stats in history)  # the mean leaves failures aside
    by_core = {core: [e for i, e in evaluations.items() if genomes[i].genes["core"] == core]
               for core in ("lstm", "gru", "feedforward")}
    assert by_core["gru"] and by_core["feedforward"] and by_core["lstm"]
    assert all(e.status == "diverged" and "non-finite loss" in e.reason and e.fitness == WORST_FITNESS
               for e in by_core["gru"])
    assert all(e.status == "error" and "boom in user code" in e.reason and e.fitness == WORST_FITNESS
               for e in by_core["feedforward"])
    assert all(e.status == "ok" for e in by_core["lstm"])
    best = max(by_core["lstm"], key=run.context.value)  # the progress bar's best: successes only, ranked as searchers do
    context = run.context
    assert context.value(context.best_so_far) == context.value(best) and context.best_so_far.status == "ok"


def _crash(genes, suites, seed, task_seed, timeout):
    if genes["core"] == "gru":
        os._exit(1)
    return {"status": "ok", "reason": "", "fitness": 0.5, "scores": {}, "metrics": {}, "curves": {},
            "wall_seconds": 0.0, "worker": "w"}


def test_a_killed_worker_is_a_crashed_evaluation(tmp_path):
    import cloudpickle
    import dask

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        Run(_config(tmp_path, "population=6", workers=2), tmp_path / "run", evaluate_fn=_crash).start()
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        genomes = {g.id: g for g in archive.genomes()}
        evaluations = archive.evaluations()
    crashed = [e for i, e in evaluations.items() if genomes[i].genes["core"] == "gru"]
    assert len(evaluations) == 12 and crashed
    assert all(e.status == "crashed" and "KilledWorker" in e.reason for e in crashed)
    assert all(e.reason.startswith("machine-dependent: ") for e in crashed)


def test_a_wall_clock_timeout_is_recorded_as_machine_dependent(tmp_path, capsys):
    """The budget that decides fitness is env-steps; a wall-clock limit is a safety net whose outcome
    depends on the node, and the archive and `inspect` say so."""
    from evo_fastslow.cli import main

    run = Run(_config(tmp_path, "generations=1", "cluster.evaluation_timeout=1e-9"), tmp_path / "run")
    run.start()
    assert run.context.best_text() == "-"  # the progress bar's "best so far": no success, no best
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        evaluations = archive.evaluations()
    assert len(evaluations) == 4
    assert all(e.status == "timeout" and e.reason.startswith("machine-dependent: ") and e.fitness == WORST_FITNESS
               for e in evaluations.values())
    assert "generation 1/1: no evaluation succeeded, 4 failed" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "run")]) == 0
    assert "machine-dependent failures (a wall-clock limit or a lost worker, not the genome): 4 timeout" in \
        " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("searcher", ["cmaes", "snes"])
def test_evotorch_searchers_run_deterministically(tmp_path, searcher):
    config = _config(tmp_path, f"searcher.name={searcher}")
    first = _run(config, tmp_path / "a")
    assert first == _run(config, tmp_path / "b")
    assert {row[4] for row in first} == {"sampled"} and len(first) == 8


def test_ga_operators_respect_gene_kinds():
    rng = np.random.default_rng(0)
    genome = SEARCH_SPACE.default()
    for _ in range(200):
        child = SEARCH_SPACE.mutate(genome, rng, rate=0.3, scale=0.1)
        assert SEARCH_SPACE.complete(dict(child.genes)) == child
        changed = [n for n in SEARCH_SPACE.genes if child[n] != genome[n]]
        assert changed  # a mutation always changes something
        for name in changed:
            gene = SEARCH_SPACE.genes[name]
            if isinstance(gene, Categorical):
                assert child[name] in gene.choices and child[name] != genome[name]
    other = SEARCH_SPACE.decode(rng.random(len(SEARCH_SPACE)))
    child = SEARCH_SPACE.crossover(genome, other, rng)
    assert all(child[n] in (genome[n], other[n]) for n in SEARCH_SPACE.genes)


def test_fixed_and_narrowed_genes_hold_in_every_genome(tmp_path):
    config = _config(tmp_path, "search_space.fixed.core=lstm", "search_space.choices.meta_inputs=[reward]")
    snapshot = _run(config, tmp_path / "run")
    import json
    for row in snapshot:
        genes = json.loads(row[3])
        assert genes["core"] == "lstm" and genes["meta_inputs"] == "reward" and 16 <= genes["episodes_per_update"] <= 32


def test_inspect_export_and_seed_a_new_run(tmp_path):
    from evo_fastslow.cli import main

    _run(_config(tmp_path), tmp_path / "run")
    exported, plot = tmp_path / "top.json", tmp_path / "progress.png"
    assert main(["inspect", str(tmp_path / "run"), "--top", "3", "--export", str(exported), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    genomes = load_genomes(exported)
    assert len(genomes) == 3 and genomes[0].provenance["source"] == "run"
    assert genomes[0].provenance["fitness"] >= genomes[1].provenance["fitness"]
    seeded = _run(_config(tmp_path, f"seed_population={exported}"), tmp_path / "seeded")
    assert [row[4] for row in seeded[:4]] == ["seeded"] * 3 + ["random"]
    assert [yaml.safe_load(row[3]) for row in seeded[:3]] == [dict(g.genes) for g in genomes]


@pytest.mark.parametrize("override, expected", [
    ("population=1", "population"),
    ("searcher.name=hillclimb", "searcher.name"),
    ("search_space.ranges.hidden_size=[4, 8]", "ranges.hidden_size"),
    ("search_space.fixed.colour=red", "fixed.colour"),
    ("suites=[fitness/nope.yaml]", "fitness/nope.yaml"),
    ("cluster.workers=-1", "cluster.workers"),
])
def test_bad_configs_exit_2_naming_the_field(override, expected):
    proc = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml",
                           "--set", override, "--out", "/nonexistent/never"], capture_output=True, text=True)
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_configs_load():
    for path in Path("configs").glob("*.yaml"):
        config = load_config(path)
        assert config.fitness_suites() and config.population >= 2
