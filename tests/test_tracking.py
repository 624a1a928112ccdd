"""Experiment tracking read back with the trackers' own readers: TensorBoard's event reader and MLflow's
client on the local store; per-generation best fitness equals the archive's (issue 23, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import evo_fastslow as ef
from evo_fastslow.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
TINY = {"budget.train_env_steps": 8000, "budget.test_episodes": 20, "population": 3, "generations": 2,
        "searcher.elites": 1, "cluster.workers": 0, "evaluation.retest": None}


def _archive_best(run_dir: Path) -> list[float]:
    with Archive(run_dir / "archive.sqlite") as archive:
        return [row[1] for row in archive.generation_summaries()]


def _mlflow(run_dir: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(tracking_uri=f"sqlite:///{(run_dir / 'mlflow/mlflow.db').resolve()}")
    with Archive(run_dir / "archive.sqlite") as archive:
        return client, archive.meta("mlflow_run_id")


def test_tensorboard_and_mlflow_hold_what_the_archive_holds(tmp_path):
    run_dir = tmp_path / "run"
    run = ef.evolve(ROOT / "configs/quickstart.yaml", {**TINY, "tracking": {"tensorboard": "tb", "mlflow": "mlflow"}},
                    run_dir=run_dir)
    best = _archive_best(run_dir)
    assert len(best) == 2

    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("fitness/best")] == [(g, pytest.approx(b, abs=1e-6))
                                                                          for g, b in enumerate(best)]
    core_tags = [t for t in events.Tags()["scalars"] if t.startswith("genes/core:")]
    space = ef.load(ROOT / "configs/quickstart.yaml").space()
    assert sorted(core_tags) == sorted(f"genes/core:{c}" for c in space.genes["core"].choices)
    for step in range(2):  # every choice has a point each generation (0 when no genome carries it); they add to 1
        shares = [next(s.value for s in events.Scalars(t) if s.step == step) for t in core_tags]
        assert sum(shares) == pytest.approx(1.0)
        with Archive(run_dir / "archive.sqlite") as archive:
            cores = [r.genes["core"] for r in archive.genomes(step)]
        assert shares == [pytest.approx(cores.count(t.split(":")[1]) / len(cores)) for t in core_tags]
    evaluated = run.evaluations()
    ok = evaluated[evaluated.status == "ok"]
    tb_fitness = {s.step: s.value for s in events.Scalars("evaluation/fitness")}
    assert tb_fitness == {int(i): pytest.approx(f, abs=1e-6) for i, f in zip(ok.genome_id, ok.fitness)}

    client, run_id = _mlflow(run_dir)
    history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "fitness/best"))
    assert history == [(g, pytest.approx(b, abs=1e-12)) for g, b in enumerate(best)]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "best_genome.json", "evaluations"} <= artifacts
    best_genome = json.loads(Path(client.download_artifacts(run_id, "best_genome.json", str(tmp_path))).read_text())
    assert best_genome["genome_id"] == run.top(1)[0].genome_id
    assert client.get_run(run_id).data.params["population"] == "3"

    # a resumed, extended run goes on in the same MLflow run; validate adds the validated fitness
    (run_dir / "config.yaml").write_text((run_dir / "config.yaml").read_text().replace("generations: 2",
                                                                                         "generations: 3"))
    ef.resume(run_dir)
    client, same = _mlflow(run_dir)
    assert same == run_id
    history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "fitness/best"))
    assert history == [(g, pytest.approx(b, abs=1e-12)) for g, b in enumerate(_archive_best(run_dir))]
    assert len(history) == 3
    report = ef.open_run(run_dir).validate(top=1, seeds=2, workers=0)
    winner = report["genomes"][0]
    validated = client.get_metric_history(run_id, f"validated/genome_{winner['genome_id']}")
    assert [m.value for m in validated] == [pytest.approx(winner["validated_fitness"]["mean"])]


def test_a_missing_tracker_directory_is_named(tmp_path, capsys):
    from evo_fastslow.cli import main

    (tmp_path / "a-file").write_text("x")
    code = main(["evolve", str(ROOT / "configs/quickstart.yaml"), "--out", str(tmp_path / "run"),
                 "--set", f"tracking.tensorboard={tmp_path / 'a-file'}"])
    assert code == 2 and "tracking.tensorboard: a directory for the tracker's files, not a file" in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # checked before the run directory is made


def test_a_choice_no_genome_carries_is_logged_as_zero():
    from evo_fastslow.evolution.tracking import gene_figures, space_choices

    space = ef.load(ROOT / "configs/quickstart.yaml").space()
    genomes = [{"core": "lstm", "hidden_size": 32}, {"core": "lstm", "hidden_size": 64}]
    figures = gene_figures(genomes, space_choices(space))
    assert figures["genes/core:lstm"] == 1.0
    assert {f"genes/core:{c}" for c in space.genes["core"].choices} <= set(figures)
    assert all(figures[f"genes/core:{c}"] == 0.0 for c in space.genes["core"].choices if c != "lstm")
    assert figures["genes/hidden_size_median"] == 48.0
