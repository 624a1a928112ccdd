"""MAP-Elites and NSGA-II: known answers on synthetic evaluations, and the archive's determinism on 1 and
2 workers, with results arriving in random order, and after SIGKILL and resume (real lifetimes)."""

import itertools
import json
import random
import subprocess
import sys
import time

import numpy as np
import pytest

from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.loop import Run
from evo_fastslow.evolution.searchers.nsga2 import parameter_cost, pareto_front
from evo_fastslow.genome import load_genomes
from runs import kill_after_evaluations

CORE = {"lstm": 0.6, "gru": 0.4, "feedforward": 0.0}
META = {"none": 0.0, "reward": 0.1, "action_reward": 0.3}


def _synthetic(space, fitness):
    def evaluation(genes, suites, seed, task_seed, timeout=None):
        return {"status": "ok", "reason": "", "fitness": fitness(space, genes), "scores": {}, "metrics": {},
                "curves": {}, "wall_seconds": 0.0, "worker": "w", "fingerprint": "", "started_at": 0.0,
                "finished_at": 0.0}
    return evaluation


def _cell_landscape(space, genes):
    """Each (core, meta_inputs) cell's optimum is CORE + META, reached at learning-rate code 0.3."""
    lr = space.genes["learning_rate"].encode(genes["learning_rate"])
    return CORE[genes["core"]] + META[genes["meta_inputs"]] - (lr - 0.3) ** 2


def test_map_elites_covers_the_map_and_its_elites_are_the_cells_optima(tmp_path):
    config = load_config("configs/quickstart.yaml", ["searcher.name=map-elites", "evaluation.rungs=[1.0]", "population=10", "generations=30",
                                                     "searcher.lag=3", "searcher.mutation_rate=0.3",
                                                     "cluster.workers=0"])
    Run(config, tmp_path / "run", evaluate_fn=_synthetic(config.space(), _cell_landscape)).start()
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        coverage = [archive.meta(f"map/{e}")["coverage"] for e in range(30)]
        final = archive.meta("map/29")
        evaluated = [(r, e) for r, e in archive.ranked()]
    assert coverage == sorted(coverage) and coverage[-1] == 1.0 and coverage[0] < 1.0
    for elite in final["elites"]:
        core, meta = (final["labels"][0][elite["position"][0]], final["labels"][1][elite["position"][1]])
        assert elite["fitness"] == pytest.approx(CORE[core] + META[meta], abs=0.01), (core, meta)
        in_cell = [e.fitness for r, e in evaluated if r.genes["core"] == core and r.genes["meta_inputs"] == meta]
        assert elite["fitness"] == max(in_cell)  # the map keeps exactly the best of its cell


def _trade_off(space, genes):
    """Bigger is better (hidden-size code), at a learning-rate code of 0.5; cost grows with size."""
    return space.genes["hidden_size"].encode(genes["hidden_size"]) - (
        space.genes["learning_rate"].encode(genes["learning_rate"]) - 0.5) ** 2


def test_nsga2_finds_the_known_front(tmp_path):
    sets = ["searcher.name=nsga2", "population=16", "generations=40", "cluster.workers=0",
            "search_space.ranges.hidden_size=[8, 64]"]
    config = load_config("configs/quickstart.yaml", sets)
    space = config.space()
    Run(config, tmp_path / "run", evaluate_fn=_synthetic(space, _trade_off)).start()
    cost = parameter_cost(config.fitness_suites())
    # the known front: for each size, the cheapest architecture, at the best learning rate (fitness = size code)
    true = {}
    for size, core, meta in itertools.product(range(8, 65), CORE, META):
        genome = space.complete({"hidden_size": size, "core": core, "meta_inputs": meta})
        true[size] = min(true.get(size, np.inf), cost(genome))
    known = pareto_front([(s, space.genes["hidden_size"].encode(s), c) for s, c in true.items()])
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        found = pareto_front([(r.id, e.fitness, cost(space.complete(r.genes))) for r, e in archive.ranked()])

    def best_known(at_cost):
        return max(f for _, f, c in known if c <= at_cost)

    gaps = np.array([best_known(c) - f for _, f, c in found])  # how far below the known front, at its cost
    assert gaps.min() >= -1e-9 and gaps.max() < 0.03 and np.mean(gaps < 0.01) >= 0.8
    assert min(c for _, _, c in found) == min(c for _, _, c in known)      # its cheap end ...
    assert max(f for _, f, _ in found) > 0.95                                # ... to its best end
    assert len({c for _, _, c in found}) >= 16  # and points between: at least a population's worth


def test_nsga2_starts_from_seeded_genomes(tmp_path):
    shipped = len(load_genomes("populations/reference.json"))
    config = load_config("configs/quickstart.yaml", ["searcher.name=nsga2", f"population={shipped + 2}", "generations=2",
                                                     "cluster.workers=0", "seed_population=populations/reference.json",
                                                     "search_space.ranges.episodes_per_update=[4, 256]",
                                                     "search_space.ranges.hidden_size=[8, 256]",
                                                     "search_space.ranges.learning_rate=[0.0001, 0.03]"])
    Run(config, tmp_path / "run", evaluate_fn=_synthetic(config.space(), _trade_off)).start()
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        first = archive.genomes(0)
    origins = [g.origin for g in first]
    assert origins == ["seeded"] * shipped + ["random"] * 2  # the reference file's genomes, then random


TINY = ["budget.train_env_steps=8000", "budget.test_episodes=20", "population=4", "generations=3",
        "evaluation.retest=null",  # the main job's re-test adds lifetimes at the end: tests/test_retest.py
        "search_space.ranges.episodes_per_update=[16, 32]", "search_space.ranges.hidden_size=[8, 16]"]
SEARCHERS = {"map-elites": ["searcher.name=map-elites", "evaluation.rungs=[1.0]", "searcher.lag=2"], "nsga2": ["searcher.name=nsga2"]}


def _delayed(genes, suites, seed, task_seed, timeout):
    """The real evaluation, then a random delay: results arrive in another order each time."""
    outcome = evaluate(genes, suites, seed, task_seed, timeout)
    time.sleep(random.Random().uniform(0.0, 0.3))
    return outcome


def _state(run_dir):
    with Archive(run_dir / "archive.sqlite") as archive:
        maps = [archive.meta(f"map/{e}") for e in range(3)]
        return archive.snapshot(), maps


@pytest.mark.parametrize("searcher", sorted(SEARCHERS))
def test_the_same_archive_on_one_and_two_workers_in_any_order_and_after_kill_and_resume(searcher, tmp_path):
    sets = [*TINY, *SEARCHERS[searcher]]
    runs = {}
    for name, workers, fn in (("in-process", 0, evaluate), ("one", 1, evaluate), ("two-delayed", 2, _delayed)):
        Run(load_config("configs/quickstart.yaml", [*sets, f"cluster.workers={workers}"]), tmp_path / name,
            evaluate_fn=fn).start()
        runs[name] = _state(tmp_path / name)
    reference = runs["in-process"]
    assert len(reference[0]) == 12 and all(row[6] == "ok" for row in reference[0])
    assert all(state == reference for state in runs.values())
    if searcher == "map-elites":
        assert reference[1][-1]["elites"] and reference[1][0]["coverage"] <= reference[1][-1]["coverage"]

    killed = tmp_path / "killed"
    args = [a for o in [*sets, "cluster.workers=0", "budget.train_env_steps=24000"] for a in ("--set", o)]
    Run(load_config("configs/quickstart.yaml", [*sets, "cluster.workers=0", "budget.train_env_steps=24000"]),
        tmp_path / "slow-reference").start()
    proc = subprocess.Popen([sys.executable, "-m", "evo_fastslow.cli", "evolve", "configs/quickstart.yaml",
                             "--out", str(killed), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    interrupted = kill_after_evaluations(proc, killed, 6)
    assert 6 <= interrupted < 12, "the kill must land in the middle of the run"
    assert main(["resume", str(killed)]) == 0
    assert _state(killed) == _state(tmp_path / "slow-reference")


def test_the_front_is_shown_validated_and_exported(tmp_path, capsys):
    run_dir = tmp_path / "run"
    sets = [a for o in [*TINY, "searcher.name=nsga2", "population=6", "cluster.workers=0"] for a in ("--set", o)]
    assert main(["evolve", "configs/quickstart.yaml", "--out", str(run_dir), *sets]) == 0
    capsys.readouterr()
    assert main(["inspect", str(run_dir)]) == 0
    assert "Pareto front: fitness against parameters" in capsys.readouterr().out
    assert main(["validate", str(run_dir), "--front", "--seeds", "2", "--workers", "0", "--json"]) == 0
    validated = json.loads(capsys.readouterr().out)["genomes"]
    assert main(["export", str(run_dir), "--front", "-o", str(tmp_path / "front")]) == 0
    import pandas as pd

    exported = pd.read_csv(tmp_path / "front" / "evaluations.csv")
    assert sorted(exported.genome_id) == sorted(g["genome_id"] for g in validated) and len(exported) >= 2
    assert exported.on_front.all()
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.html")]) == 0
    assert "Pareto front: fitness against parameters" in (tmp_path / "r.html").read_text()


def test_a_descriptor_naming_no_gene_is_refused(capsys):
    assert main(["evolve", "configs/quickstart.yaml", "--set", "searcher.name=map-elites",
                 "--set", "evaluation.rungs=[1.0]", "--set", 'searcher.descriptors=[{"gene": "colour"}]']) == 2
    assert "descriptor gene 'colour' is not a gene" in capsys.readouterr().err


def test_map_elites_with_budget_rungs_is_refused_naming_the_field(capsys):
    assert main(["evolve", "configs/quickstart.yaml", "--set", "searcher.name=map-elites"]) == 2
    assert "evaluation.rungs: [1.0] with searcher map-elites" in capsys.readouterr().err


def test_descriptors_from_genes_and_from_measured_outcomes():
    """A categorical gene has a bin per choice, a numeric gene `bins` over its range, a metric `bins`
    over [low, high] on a log axis (values outside land in the edge cells)."""
    from evo_fastslow.archive import Evaluation
    from evo_fastslow.evolution.searchers.descriptors import Descriptor, DescriptorSpace
    from evo_fastslow.genome import SEARCH_SPACE

    grid = DescriptorSpace(SEARCH_SPACE, (Descriptor(gene="core"), Descriptor(gene="hidden_size", bins=4),
                                          Descriptor(metric="parameter_count", low=10, high=1e5, bins=4, log=True)))
    assert grid.dims == [3, 4, 4] and grid.labels[0] == ["lstm", "gru", "feedforward"]
    grid_map = grid.new_map(qd_offset=-1.0)
    genes = SEARCH_SPACE.complete({"core": "gru", "hidden_size": 256}).genes
    for count, cell in ((1_000, 2), (5, 0), (1e9, 3)):  # 10^3 is the third of four decades; outside: the edges
        evaluation = Evaluation(0, "ok", "", 0.5, {}, {"a": {"parameter_count": count / 2}, "b": {"parameter_count": count / 2}}, {}, 0, "w")
        index = grid_map.index_of_single(grid.measures(genes, evaluation))
        assert list(grid_map.int_to_grid_index([index])[0]) == [1, 3, cell]
    with pytest.raises(ValueError, match="needs low < high"):
        Descriptor(metric="parameter_count")


def test_inspect_and_report_draw_the_map(tmp_path, capsys):
    config = load_config("configs/quickstart.yaml", ["searcher.name=map-elites", "evaluation.rungs=[1.0]", "population=6", "generations=4",
                                                     "searcher.lag=2", "cluster.workers=0"])
    Run(config, tmp_path / "run", evaluate_fn=_synthetic(config.space(), _cell_landscape)).start()
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "MAP-Elites map after epoch 4" in out and "core \\ meta_inputs" in out
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    section = page[page.index("<h2>MAP-Elites map</h2>"):]
    assert section.index("<svg") < section.index("<h2>", 5) and "QD-score" in section
