"""Inheritance modes: determinism on 1 and 2 workers and across SIGKILL + resume, weights as
content-addressed safetensors (never unpickled), a changed architecture starting fresh, validate
and the experiment command on runs that inherit weights."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import yaml

from evo_fastslow.archive import Archive, GenomeRecord
from evo_fastslow.cli import main
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate, initial_weights
from evo_fastslow.evolution.inheritance import Inheritance, InheritanceConfig
from evo_fastslow.evolution.loop import Run
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.suite import load_suite
from evo_fastslow.weights import WeightStore, digest, from_bytes, to_bytes

from runs import TINY, kill_after_evaluations

# one architecture, so that children inherit (a changed architecture starts fresh: tested below)
SAME_ARCHITECTURE = ["search_space.fixed.hidden_size=8", "search_space.fixed.core=lstm",
                     "search_space.fixed.meta_inputs=action_reward", "generations=3",
                     "budget.train_env_steps=16000"]


def _snapshot(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        return archive.snapshot()


def _run(run_dir, mode, workers, *extra):
    overrides = [*TINY, *SAME_ARCHITECTURE, f"inheritance.mode={mode}", f"cluster.workers={workers}", *extra]
    Run(load_config("configs/quickstart.yaml", overrides), run_dir).start()
    return _snapshot(run_dir)


@pytest.mark.parametrize("mode", ["darwinian", "baldwinian", "lamarckian"])
def test_each_mode_gives_one_archive_on_one_or_two_workers_and_after_sigkill_and_resume(tmp_path, mode):
    straight = _run(tmp_path / "in-process", mode, 0)
    assert len(straight) == 9 and all(row[6] == "ok" for row in straight)
    assert _run(tmp_path / "two", mode, 2) == straight
    notes = [row[12] for row in straight]
    if mode == "darwinian":
        assert notes == [None] * 9  # nothing inherited, nothing recorded
    else:
        inherited = "end-of-lifetime weights of parent" if mode == "lamarckian" else "initial weights of parent"
        assert sum(bool(n) and n.startswith(inherited) for n in notes) >= 4, notes
        if mode == "baldwinian":
            assert all(row[11] for row in straight), "every genome carries its initial weights"
        else:
            assert all(row[13] for row in straight), "every lifetime's end weights are kept"

    killed = tmp_path / "killed"
    sets = [a for o in [*TINY, *SAME_ARCHITECTURE, f"inheritance.mode={mode}", "cluster.workers=0"]
            for a in ("--set", o)]
    proc = subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml",
                             "--out", str(killed), *sets], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    interrupted = kill_after_evaluations(proc, killed, 5)
    assert 5 <= interrupted < 9, "the kill must land in the middle of the run"
    assert main(["resume", str(killed)]) == 0
    assert _snapshot(killed) == straight


def test_lamarckian_aging_is_the_same_on_one_and_two_workers(tmp_path):
    extra = ["searcher.name=aging", "searcher.lag=2"]
    one = _run(tmp_path / "one", "lamarckian", 0, *extra)
    assert _run(tmp_path / "two", "lamarckian", 2, *extra) == one
    assert sum(bool(row[12]) and row[12].startswith("end-of-lifetime") for row in one) >= 4


def _suite():
    suite = load_suite("fitness/bandit-independent.yaml")
    return suite.model_copy(update={"lifetime": suite.lifetime.model_copy(update={"train_env_steps": 8000}),
                                    "test": suite.test.model_copy(update={"episodes": 20})})


def _inheritance(tmp_path, mode, sigma=0.01):
    archive = Archive(tmp_path / "archive.sqlite")
    store = WeightStore(tmp_path / "weights")
    return Inheritance(InheritanceConfig(mode=mode, weight_sigma=sigma), 7, [_suite()], archive, store), archive, store


def test_a_lamarckian_child_of_a_changed_architecture_starts_fresh_and_the_archive_says_so(tmp_path):
    inheritance, archive, store = _inheritance(tmp_path, "lamarckian")
    parent_genes = dict(SEARCH_SPACE.default().with_genes(hidden_size=8).genes)
    records = [GenomeRecord(0, 0, 0, parent_genes, "random", []),
               GenomeRecord(1, 1, 0, {**parent_genes, "hidden_size": 16}, "mutation", [0]),
               GenomeRecord(2, 1, 1, {**parent_genes, "learning_rate": 0.01}, "mutation", [0])]
    archive.add_genomes(records)
    assert inheritance.prepare(records[0], 11) == (None, "")  # no parent: fresh
    outcome = evaluate(parent_genes, [_suite()], 11, 12, keep_weights=True)
    inheritance.record_final(0, outcome["weights"])
    final = archive.weights(0)[2]
    assert final == digest(outcome["weights"]) and store.path(final).is_file()

    assert inheritance.prepare(records[1], 13) == (None, "")
    initial, note, _ = archive.weights(1)
    assert initial == "" and note == "fresh: architecture changed from parent 0 (hidden_size)"

    blob, key = inheritance.prepare(records[2], 13)
    assert key == final and blob == outcome["weights"]
    assert archive.weights(2)[:2] == (final, "end-of-lifetime weights of parent 0")
    # the child's lifetime starts where its parent's ended: not where a fresh one would
    inherited = evaluate(records[2].genes, [_suite()], 13, 12, weights=blob, weights_hash=key)
    fresh = evaluate(records[2].genes, [_suite()], 13, 12)
    assert inherited["status"] == fresh["status"] == "ok" and inherited["metrics"] != fresh["metrics"]


def test_a_baldwinian_child_carries_its_parents_initial_weights_mutated_and_an_elite_unchanged(tmp_path):
    sigma = 0.05
    inheritance, archive, store = _inheritance(tmp_path, "baldwinian", sigma)
    genes = dict(SEARCH_SPACE.default().with_genes(hidden_size=32).genes)
    records = [GenomeRecord(0, 0, 0, genes, "random", []), GenomeRecord(1, 1, 0, genes, "mutation", [0]),
               GenomeRecord(2, 1, 1, genes, "elite", [0])]
    archive.add_genomes(records)
    _, parent_key = inheritance.prepare(records[0], 11)
    parent = store.load(parent_key)
    fresh = initial_weights(genes, [_suite()], 11)
    assert all(np.array_equal(parent[k], fresh[k]) for k in fresh)  # a fresh genome stores its own start
    _, child_key = inheritance.prepare(records[1], 12)
    child = store.load(child_key)
    step = np.concatenate([(child[k].astype(np.float64) - parent[k]).ravel() for k in sorted(parent)])
    # about 10k weights: the sample std is within 3% of sigma, the mean within 5 standard errors of 0
    assert abs(step.std() / sigma - 1) < 0.03 and abs(step.mean()) < 5 * sigma / np.sqrt(step.size)
    assert inheritance.prepare(records[2], 13)[1] == parent_key  # an elite returns unchanged


class _Trap:
    """Unpickling this would create a file: the proof that nothing was unpickled is that it is absent."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_weights_file_holding_a_pickle_is_refused_without_unpickling_it(tmp_path):
    import torch

    trap = tmp_path / "unpickled"
    store = WeightStore(tmp_path / "weights")
    for payload in (pickle.dumps(_Trap(trap)), _torch_pickle(torch, _Trap(trap), tmp_path)):
        key = digest(payload)
        store.folder.mkdir(exist_ok=True)
        store.path(key).write_bytes(payload)  # a file whose name is its hash: only its format is wrong
        with pytest.raises(InputError, match="a safetensors file of network weights .*pickled weights are never loaded"):
            store.load(key)
        with pytest.raises(InputError, match=str(store.path(key))):
            store.load(key)
    assert not trap.exists()
    good = to_bytes({"s/w": np.ones(3)})
    key = store.put(good)
    store.path(key).write_bytes(good[:-1] + b"\x01")  # altered after the fact
    with pytest.raises(InputError, match="SHA-256"):
        store.load(key)
    # a job's weights are checked against their hash by the worker: a mismatch is a recorded error
    outcome = evaluate(dict(SEARCH_SPACE.default().genes), [_suite()], 1, 2, weights=good, weights_hash="0" * 64)
    assert outcome["status"] == "error" and "SHA-256" in outcome["reason"]
    with pytest.raises(InputError):
        from_bytes(b"\x80\x04K\x01.", "x")


def _torch_pickle(torch, obj, tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"w": obj}, path)
    return path.read_bytes()


def test_validate_reruns_an_inherited_genome_from_its_weights_and_names_a_broken_weights_file(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _run(run_dir, "lamarckian", 0)
    assert main(["validate", str(run_dir), "--top", "2", "--seeds", "2", "--workers", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    with Archive(run_dir / "archive.sqlite") as archive:
        for genome in report["genomes"]:
            assert genome["weights"] == archive.weights(genome["genome_id"])[0]
        keyed = [g for g, _, _, _ in archive.replicates()]
    assert any("@weights" in g for g in keyed), "replicates of an inherited genome are keyed by its weights"
    inherited = next(g for g in report["genomes"] if g["weights"])
    WeightStore(run_dir / "weights").path(inherited["weights"]).write_bytes(pickle.dumps({"w": 1}))
    with Archive(run_dir / "archive.sqlite") as archive:
        archive.db.execute("DELETE FROM replicates")
    code = main(["validate", str(run_dir), "--top", "2", "--seeds", "2", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "weights" in err and "SHA-256" in err and "Traceback" not in err


def test_inheritance_needs_a_searcher_with_parents(capsys):
    code = main(["evolve", "configs/quickstart.yaml", "--set", "searcher.name=cmaes", "--set",
                 "inheritance=lamarckian", "--out", "/nonexistent/never"])
    err = capsys.readouterr().err
    assert code == 2 and "inheritance" in err and "ga, aging, map-elites or nsga2" in err


def test_the_experiment_command_compares_arms_over_run_seeds(tmp_path, capsys):
    experiment = {"schema": "evo_fastslow.experiment/1", "name": "tiny", "run_seeds": [0, 1], "validate_seeds": 2,
                  "show_genes": ["learning_rate"],
                  "arms": [{"name": mode, "config": "configs/quickstart.yaml",
                            "set": [*TINY, "cluster.workers=0", f"inheritance={mode}"]}
                           for mode in ("darwinian", "lamarckian")]
                  + [{"name": "every-lifetime-times-out", "config": "configs/quickstart.yaml",
                      "set": [*TINY, "cluster.workers=0", "cluster.evaluation_timeout=1e-9"]}]}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    assert main(["experiment", str(path), "--out", str(tmp_path / "out"), "--workers", "0"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["arms"]) == {"darwinian", "lamarckian", "every-lifetime-times-out"}
    broken = summary["arms"].pop("every-lifetime-times-out")  # failure is data: reported, not a crash
    assert broken["failed_runs"] == 2 and broken["validated_fitness"]["n"] == 0
    for name, arm in summary["arms"].items():
        validated = arm["validated_fitness"]
        assert validated["n"] == 2 and validated["low"] <= validated["mean"] <= validated["high"]
        spent = []  # what the runs' trials cost (racing and rungs spend by evidence, not a fixed count)
        for run_dir in sorted((tmp_path / "out" / name).iterdir()):
            with Archive(run_dir / "archive.sqlite") as archive:
                spent.append(archive.spending()["env_steps"])
        assert arm["env_steps"]["mean"] == sum(spent) / len(spent) and min(spent) >= 6 * 8000 / 4
    assert (tmp_path / "out" / "experiment.svg").read_text().startswith("<?xml")
    assert "validated fitness" in capsys.readouterr().out
    # a second call resumes the finished runs and reuses the validation: the same summary
    assert main(["experiment", str(path), "--out", str(tmp_path / "out"), "--workers", "0"]) == 0
    again = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {k: v for k, v in again["arms"].items() if k in summary["arms"]} == summary["arms"]

    del experiment["arms"][0]["config"]
    path.write_text(yaml.safe_dump(experiment))
    assert main(["experiment", str(path)]) == 2
    assert "experiment.yaml: arms.0.config: Field required" in capsys.readouterr().err


def test_an_exported_genome_takes_its_weights_along_to_a_lifetime_and_a_seeded_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _run(run_dir, "baldwinian", 0)
    exported = tmp_path / "evolved.json"
    assert main(["inspect", str(run_dir), "--top", "2", "--export", str(exported)]) == 0
    genomes = json.loads(exported.read_text())["genomes"]
    entry = genomes[0]["provenance"]["initial_weights"]
    with Archive(run_dir / "archive.sqlite") as archive:
        assert entry["sha256"] == archive.weights(genomes[0]["provenance"]["genome_id"])[0]
    assert (tmp_path / entry["file"]).is_file()
    capsys.readouterr()

    suite = tmp_path / "suite.yaml"
    data = yaml.safe_load(open("fitness/bandit-independent.yaml"))
    data["lifetime"]["train_env_steps"], data["test"]["episodes"] = 4000, 20
    suite.write_text(yaml.safe_dump(data))
    assert main(["lifetime", "--genome", f"{exported}:{genomes[0]['name']}", "--suite", str(suite)]) == 0
    assert "starting from the genome's evolved initial weights" in capsys.readouterr().err

    seeded = tmp_path / "seeded"
    _run(seeded, "baldwinian", 0, f"seed_population={exported}")
    with Archive(seeded / "archive.sqlite") as archive:
        first = archive.weights(0)
        assert archive.genome(0).origin == "seeded" and first[:2] == (entry["sha256"], "the genome file's initial weights")

    (tmp_path / entry["file"]).write_bytes(b"not the weights")
    assert main(["lifetime", "--genome", f"{exported}:{genomes[0]['name']}", "--suite", str(suite)]) == 2
    assert "SHA-256" in capsys.readouterr().err
