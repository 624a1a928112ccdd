"""The selection map (analysis/selection_map.py): on hand-made archives whose shares and ablation differences are
known, its figures are those worked out by hand; then `evo-fastslow map` end to end on two tiny real runs in two
worlds, each ablated, as a user runs it."""

from __future__ import annotations

import json
import math

import pytest

from evo_fastslow import api
from evo_fastslow.analysis.selection_map import goal_met, selection_map
from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.cli import main
from evo_fastslow.evolution.config import load_config
from evo_fastslow.genome import SEARCH_SPACE
from runs import TINY

SEARCHED = ["core", "meta_inputs", "episodic_memory", "learning_rate"]


def _run(folder, world, generations, ablation):
    """generations: one list per generation of (meta_inputs, episodic_memory, fitness)."""
    folder.mkdir(parents=True)
    with Archive(folder / "archive.sqlite") as archive:
        config = load_config("configs/quickstart.yaml", [f"search_space.search=[{', '.join(SEARCHED)}]",
                                                          "search_space.ranges={}"])
        config = json.loads(json.dumps(config.model_dump(by_alias=True)))
        config["embedded_suites"][0]["name"] = world
        archive.set_meta("config", config)
        genome_id = 0
        for generation, genomes in enumerate(generations):
            records = []
            for index, (meta, memory, fitness) in enumerate(genomes):
                genes = dict(SEARCH_SPACE.complete({"meta_inputs": meta, "episodic_memory": memory,
                                                    "learning_rate": 0.001 * (genome_id + 1)}).genes)
                records.append(GenomeRecord(genome_id, generation, index, genes, "random", []))
                archive.add_genomes(records[-1:])
                archive.add_evaluation(Evaluation(genome_id, "ok", "", fitness, {}, {}, {}, 1.0, "w"))
                genome_id += 1
        if ablation is not None:
            best = archive.ranked(1)[0][0].genes
            archive.set_meta("ablation", {"genes": best, "effects": [
                {"gene": gene, "to": to, "differences": differences} for gene, to, differences in ablation]})
    return folder


def test_the_map_of_hand_made_runs_is_what_it_should_be(tmp_path):
    first = [("action_reward", "off", 0.1), ("none", "off", 0.2), ("reward", "value", 0.3), ("none", "off", 0.0)]
    runs = {"recurring": [
        _run(tmp_path / "a", "recurring", [first, [("action_reward", "value", 0.9), ("action_reward", "off", 0.5),
                                                   ("action_reward", "off", 0.4), ("none", "off", 0.3)]],
             [("meta_inputs", "none", [-0.2, -0.3, -0.25]), ("episodic_memory", "off", [0.01, -0.02, 0.0])]),
        _run(tmp_path / "b", "recurring", [first, [("action_reward", "value", 0.8), ("action_reward", "value", 0.7),
                                                   ("action_reward", "off", 0.6), ("action_reward", "off", 0.1)]],
             [("meta_inputs", "none", [-0.15, -0.3, -0.3]), ("episodic_memory", "off", [0.02, -0.01, 0.01])])]}
    frame = selection_map(runs).set_index("mechanism")
    meta, memory, encoder = frame.loc["meta-RL inputs"], frame.loc["episodic memory"], frame.loc["perception"]
    assert meta["share_first"] == 0.25 and meta["share_last_per_run"] == [0.75, 1.0] and meta["share_last"] == 0.875
    assert meta["winners_carrying"] == 2 and meta["cost_n"] == 6
    assert meta["cost"] == pytest.approx((0.2 + 0.3 + 0.25 + 0.15 + 0.3 + 0.3) / 6)  # winner − removed
    assert meta["verdict"] == "pays" and goal_met(meta) is False  # run a: 75% carry, below 90%
    assert memory["share_first"] == 0.25 and memory["share_last_per_run"] == [0.25, 0.5]
    assert memory["verdict"] == "neither" and memory["cost"] == pytest.approx(-0.01 / 6)
    from scipy.stats import fisher_exact

    assert memory["p_rise"] == pytest.approx(fisher_exact([[3, 5], [2, 6]], alternative="greater").pvalue)
    assert goal_met(memory) is True  # 3 of 8 against 2 of 8: no rise beyond chance
    assert encoder["verdict"] == "not searched" and goal_met(encoder) is None


def test_a_run_without_ablation_is_not_measured_and_a_removed_harm_is_told(tmp_path):
    gens = [[("none", "off", 0.1), ("none", "value", 0.2)], [("none", "value", 0.9), ("none", "value", 0.8)]]
    harms = _run(tmp_path / "h", "w", gens, [("episodic_memory", "off", [0.3, 0.2, 0.25, 0.35])])
    frame = selection_map({"w": [harms]}).set_index("mechanism")
    assert frame.loc["episodic memory", "verdict"] == "harms" and goal_met(frame.loc["episodic memory"]) is False
    plain = _run(tmp_path / "p", "w", gens, None)
    cell = selection_map({"w": [plain]}).set_index("mechanism").loc["episodic memory"]
    assert cell["verdict"] == "not measured" and math.isnan(cell["cost"])


def test_the_map_command_on_two_tiny_worlds(tmp_path, capsys):
    runs = []
    for world, suite in (("independent", "fitness/bandit-independent.yaml"),
                         ("recurring", "fitness/recurring-contextual-bandits.yaml")):
        run_dir = tmp_path / "experiment" / world / "seed-0"
        overrides = [*TINY, "population=4", "cluster.workers=0", f"suites=[{suite}]",
                     "search_space.search=[core, meta_inputs, episodic_memory, hidden_size, episodes_per_update]",
                     "search_space.ranges={hidden_size: [8, 16], episodes_per_update: [16, 32]}"]
        api.evolve("configs/quickstart.yaml", overrides, run_dir=run_dir)
        assert main(["ablate", str(run_dir), "--genes", "core", "meta_inputs", "episodic_memory", "--seeds", "2",
                     "--workers", "0"]) == 0
        runs.append(run_dir)
    capsys.readouterr()
    figure = tmp_path / "map.svg"
    assert main(["map", str(tmp_path / "experiment"), "-o", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "selection map" in out and "bandit-independent" in out and "recurring" in out
    assert figure.read_text().startswith("<svg")
    assert main(["map", *map(str, runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * 5 and {r["mechanism"] for r in rows} >= {"meta-RL inputs", "episodic memory"}
    frame = api.open_run(runs[0]).selection_map()
    assert list(frame["mechanism"])[:3] == ["recurrence", "meta-RL inputs", "episodic memory"]
    assert main(["map", str(tmp_path / "nothing-here")]) == 2  # bad input: one line, exit 2
