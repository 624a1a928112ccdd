"""The re-test before a winner is named (evolution/drivers/retest.py): the top few genomes of the search
get the same shared replicates, and the archive names the best of those means; the same archive on one
worker or two with random delays, and after a SIGKILL in the middle of the re-test and `resume`."""

import random
import sqlite3
import subprocess
import sys
import time

import numpy as np

from evo_fastslow.archive import Archive, Trial
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.loop import Run
from evo_fastslow.evolution.plan import plan
from evo_fastslow.evolution.policy.trials import subject_key
from runs import TINY, evolve, evolve_command, kill_after_evaluations, snapshot

RETEST = [*TINY, "population=4", "generations=2", "evaluation.retest={top: 2, replicates: 4}"]


def _delayed(genes, suites, seed, task_seed, timeout):
    outcome = evaluate(genes, suites, seed, task_seed, timeout)
    time.sleep(random.Random().uniform(0.0, 0.2))
    return outcome


def test_the_top_genomes_are_re_tested_on_shared_replicates_and_the_best_is_named(tmp_path, capsys):
    config = load_config("configs/quickstart.yaml", RETEST)
    Run(config, tmp_path / "run").start()
    assert "re-tested the top 2 on 4 shared replicates" in capsys.readouterr().err
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        before = [(r, e) for r, e in archive.ranked(retested=False) if e.status == "ok" and e.rung == 1][:2]
        retests = archive.retests()
        assert list(retests) == [r.id for r, _ in before]  # the search's top two, in its order
        trials = archive.trials()
        for record, _ in before:
            found = retests[record.id]
            assert found.replicates == 4 and found.decision == "re-tested on 4 shared replicates"
            subject = subject_key(record.genes, archive.weights(record.id)[0] if archive.weights(record.id) else "")
            values = [trials[Trial(subject, 1, r)]["fitness"] for r in range(4)]
            assert np.isclose(found.fitness, np.mean(values))
        named, evaluation = archive.ranked(1)[0]
        assert named.id in retests and evaluation.fitness == max(e.fitness for e in retests.values())
        assert archive.ranked(through_generation=0)[0][1].decision != "re-tested on 4 shared replicates"
    # the plan counts the re-test's replicates beyond max_replicates (3): 2 genomes x 1 more
    without = plan(load_config("configs/quickstart.yaml", RETEST[:-1]), measure=False)
    assert plan(config, measure=False).lifetimes == without.lifetimes + 2


def test_one_worker_two_workers_delays_and_a_kill_in_the_re_test_give_one_archive(tmp_path):
    reference = tmp_path / "in-process"
    Run(load_config("configs/quickstart.yaml", [*RETEST, "cluster.workers=0"]), reference).start()
    expected = snapshot(reference)
    assert any(row[0] == "re-test" for row in expected)
    Run(load_config("configs/quickstart.yaml", [*RETEST, "cluster.workers=2"]), tmp_path / "two",
        evaluate_fn=_delayed).start()
    assert snapshot(tmp_path / "two") == expected
    total = sqlite3.connect(reference / "archive.sqlite").execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(evolve_command(killed, *RETEST[len(TINY):], "cluster.workers=1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    held = kill_after_evaluations(proc, killed, total - 2, limit=300, table="trials")
    assert held < total  # killed with the re-test's last lifetimes still to come
    resumed = subprocess.run([sys.executable, "-m", "evo_fastslow.cli", "resume", str(killed)], capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert snapshot(killed) == expected


def test_a_retest_needs_shared_seeds(tmp_path):
    proc = evolve(tmp_path / "run", "evaluation.seeds=per-generation", "evaluation.max_replicates=1",
                  "evaluation.rungs=[1.0]", "evaluation.retest={top: 2, replicates: 3}")
    assert proc.returncode == 2 and "evaluation.retest: needs seeds: shared" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_python_api_and_inspect_show_the_re_test(tmp_path, capsys):
    Run(load_config("configs/quickstart.yaml", RETEST), tmp_path / "run").start()
    from evo_fastslow import open_run
    from evo_fastslow.cli import main

    best = open_run(tmp_path / "run").top(1)[0]
    assert best.decision == "re-tested on 4 shared replicates" and best.replicates == 4
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "run")]) == 0
    assert "re-tested" in capsys.readouterr().out
