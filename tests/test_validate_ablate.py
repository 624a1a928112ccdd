"""`validate` and `ablate`: intervals that mean what they say, on a synthetic evaluation with known
noise, on a real quickstart run, and on the reference meta-RL genome."""

import json

import numpy as np
import pytest
from rich.console import Console

from evo_fastslow.analysis.ablate import gene_importance
from evo_fastslow.analysis.replicates import Study, run_replicates, summary
from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.cli import main
from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.seeds import numpy_generator
from runs import TINY

TRUE_MEAN, NOISE = 0.3, 0.2


def _noisy_evaluation(genes, suites, seed, task_seed, timeout=None):
    """A synthetic evaluation: fitness = TRUE_MEAN + Gaussian noise drawn from the replicate's seeds."""
    fitness = TRUE_MEAN + NOISE * float(numpy_generator(seed, task_seed).standard_normal())
    metrics = {s.name: {"test_regret": -fitness, "test_mean_reward": fitness} for s in suites}
    return {"status": "ok", "reason": "", "fitness": fitness, "scores": {}, "metrics": metrics, "curves": {},
            "fingerprint": ""}


def test_the_95_percent_interval_covers_the_true_mean_about_95_percent_of_the_time(tiny_suite):
    """1,000 studies of 5 replicates each: coverage within 3 binomial standard errors (0.021) of 0.95."""
    covered = 0
    with Archive(":memory:") as archive:
        for study_seed in range(1000):
            study = Study([tiny_suite], study_seed, ClusterConfig(workers=0), _noisy_evaluation)
            outcomes = run_replicates(study, [{"core": "lstm"}], 5, archive, Console(quiet=True))[0]
            interval = summary(outcomes, [tiny_suite])["fitness"]
            covered += interval.low <= TRUE_MEAN <= interval.high
    assert abs(covered / 1000 - 0.95) < 0.021


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    sets = [a for o in [*TINY, "population=4", "cluster.workers=0"] for a in ("--set", o)]
    assert main(["evolve", "configs/quickstart.yaml", "--out", str(run_dir), *sets]) == 0
    return run_dir


def test_validate_a_quickstart_run(quickstart_run, capsys):
    assert main(["validate", str(quickstart_run), "--top", "2", "--seeds", "3", "--workers", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    with Archive(quickstart_run / "archive.sqlite", create=False) as archive:
        best = archive.ranked(1)[0]
        stored = archive.replicates()
        assert archive.meta("validation") == report
    first = report["genomes"][0]
    assert first["genome_id"] == best[0].id and first["selection_fitness"] == best[1].fitness
    assert len(report["genomes"]) == 2 and len(stored) == 6  # 2 genomes x 3 seeds, kept in the archive
    for genome in report["genomes"]:
        fitness = genome["validated_fitness"]
        assert fitness["n"] == 3 and fitness["low"] <= fitness["mean"] <= fitness["high"]
        assert genome["optimism"] == pytest.approx(genome["selection_fitness"] - fitness["mean"])
        regret = genome["measures"]["bandit-independent.test_regret"]
        assert regret["low"] <= regret["mean"] <= regret["high"]
    baselines = report["baselines"]["bandit-independent.test_regret"]
    assert {"thompson", "gittins", "bayes-optimal", "random"} <= set(baselines)
    assert baselines["bayes-optimal"]["mean"] < baselines["thompson"]["mean"] < baselines["random"]["mean"]
    # again, as a table: the replicates come from the archive (nothing re-run), the same figures
    assert main(["validate", str(quickstart_run), "--top", "2", "--seeds", "3", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "optimism" in out and "baselines on the same held-out tasks" in out
    assert f"{first['validated_fitness']['mean']:.3f}" in out


def test_validate_names_bad_input(quickstart_run, capsys):
    assert main(["validate", "populations/reference.json", "--workers", "0"]) == 2
    assert "--suite: at least one fitness suite file" in capsys.readouterr().err
    assert main(["validate", str(quickstart_run), "--seeds", "1"]) == 2
    assert "seeds: value: at least 2" in capsys.readouterr().err
    assert main(["validate", "no/such/run"]) == 2
    assert "no/such/run: file: a run directory or a genome file" in capsys.readouterr().err
    assert main(["ablate", "populations/reference.json", "--suite", "fitness/two-step.yaml", "--workers", "0"]) == 2
    assert "one genome: name it as FILE:NAME" in capsys.readouterr().err
    assert main(["ablate", str(quickstart_run), "--genes", "colour", "--workers", "0"]) == 2
    assert "--genes: colour: GENE or GENE=VALUE with a gene of the search space" in capsys.readouterr().err
    assert main(["ablate", str(quickstart_run), "--genes", "core=transformer", "--workers", "0"]) == 2
    assert "--genes: core=transformer: core: one of ['lstm', 'gru', 'feedforward'" in capsys.readouterr().err
    assert main(["ablate", str(quickstart_run), "--genes", "hidden_size=wide", "--workers", "0"]) == 2
    assert "--genes: hidden_size=wide: hidden_size: an integer in [" in capsys.readouterr().err


def test_ablate_tries_a_named_value_alone(quickstart_run, capsys):
    """GENE=VALUE: that change only (what the selection map's removals use); GENE: every other value."""
    from evo_fastslow.analysis.ablate import changes

    genes = SEARCH_SPACE.default().with_genes(core="lstm", meta_inputs="action_reward", hidden_size=32).genes
    assert changes(genes, SEARCH_SPACE, ["core=feedforward", "meta_inputs", "hidden_size=32"]) == [
        ("core", "feedforward"), ("meta_inputs", "none"), ("meta_inputs", "reward")]
    with Archive(quickstart_run / "archive.sqlite", create=False) as archive:
        winner = archive.ranked(1)[0][0].genes
    other = next(c for c in SEARCH_SPACE.genes["core"].choices if c != winner["core"])
    assert main(["ablate", str(quickstart_run), "--genes", f"core={other}", "--seeds", "2", "--workers", "0",
                 "--json"]) == 0
    effects = json.loads(capsys.readouterr().out)["effects"]
    assert [(e["gene"], e["from"], e["to"]) for e in effects] == [("core", winner["core"], other)]
    assert len(effects[0]["differences"]) == 2


def test_gene_importance_finds_the_gene_that_decides_fitness(tmp_path):
    """A synthetic archive whose fitness depends on `core` alone (plus noise): it ranks first."""
    rng = np.random.default_rng(0)
    with Archive(tmp_path / "archive.sqlite") as archive:
        for i in range(60):
            genes = SEARCH_SPACE.decode(rng.random(len(SEARCH_SPACE))).genes
            archive.add_genomes([GenomeRecord(i, 0, i, genes, "random", [])])
            fitness = {"lstm": 0.8, "gru": 0.7, "feedforward": 0.1}[genes["core"]] + 0.02 * rng.standard_normal()
            archive.add_evaluation(Evaluation(i, "ok", "", fitness, {}, {}, {}, 1.0, "w"))
        importance = gene_importance(archive, SEARCH_SPACE, list(SEARCH_SPACE.genes))
    assert importance[0]["gene"] == "core"
    assert importance[0]["importance"] > 5 * max(row["importance"] for row in importance[1:])


@pytest.mark.slow
def test_ablating_the_meta_rl_lstm_shows_which_biases_matter(tmp_path, capsys):
    """wang2016-lstm on independent bandits at half the suite's budget (3M steps, 500 test episodes),
    3 seeds: removing the meta-RL inputs and removing recurrence both hurt, intervals excluding 0."""
    suite = tmp_path / "bandit-3m.yaml"
    text = open("fitness/bandit-independent.yaml").read()
    suite.write_text(text.replace("train_env_steps: 6000000", "train_env_steps: 3000000")
                     .replace("episodes: 2000", "episodes: 500"))
    assert main(["ablate", "populations/reference.json:wang2016-lstm", "--suite", str(suite), "--seeds", "3",
                 "--genes", "core", "meta_inputs", "--workers", "2", "--json"]) == 0
    effects = {(e["gene"], e["to"]): e["fitness"] for e in json.loads(capsys.readouterr().out)["effects"]}
    assert set(effects) == {("core", "gru"), ("core", "feedforward"), ("meta_inputs", "none"),
                            ("meta_inputs", "reward")}
    assert effects["meta_inputs", "none"]["high"] < 0
    assert effects["core", "feedforward"]["high"] < 0


def test_a_genome_file_keeps_its_replicates_in_the_archive_it_is_given(tmp_path, capsys):
    """--archive: the replicates of a genome file are kept, and a rerun reuses them (same figures, no
    new rows); without it nothing is written."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(open("fitness/bandit-independent.yaml").read().replace("train_env_steps: 6000000", "train_env_steps: 16000")
                     .replace("episodes: 2000", "episodes: 50"))
    args = ["validate", "populations/reference.json:feedforward-blind", "--suite", str(suite), "--seeds", "2",
            "--workers", "0", "--archive", str(tmp_path / "study.sqlite"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    with Archive(tmp_path / "study.sqlite", create=False) as archive:
        assert len(archive.replicates()) == 2
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first
    with Archive(tmp_path / "study.sqlite", create=False) as archive:
        assert len(archive.replicates()) == 2


def test_report_and_export_name_a_place_they_cannot_write(quickstart_run, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["report", str(quickstart_run), "-o", str(blocker / "report.html")]) == 2
    assert f"{blocker / 'report.html'}: -o: an HTML file to write, but {blocker} is a file" in capsys.readouterr().err
    assert main(["export", str(quickstart_run), "-o", str(blocker / "out")]) == 2
    assert f"{blocker / 'out'}: -o: a directory for the exported tables, but {blocker} is a file" \
        in capsys.readouterr().err
