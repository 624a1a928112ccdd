"""studies/: research kept apart from the product, each study in its own folder. Every study has a README; its
configs and experiment files load from their folder (suites and seed populations resolved from there); its
scripts start; and the bandit-agent study's reproduce check (`bandit_agent.py --check`) still compares an
archive's digest with the one a genome file records, from the study's new place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evo_fastslow import api
from evo_fastslow.analysis.experiment import load_experiment
from evo_fastslow.evolution.config import load_config

ROOT = Path(__file__).resolve().parents[1]
STUDIES = sorted(p for p in (ROOT / "studies").iterdir() if p.is_dir())
YAML = sorted((ROOT / "studies").glob("*/*.yaml")) + sorted((ROOT / "studies").glob("*/configs/*.yaml"))
CONFIGS = [p for p in YAML if "evo_fastslow.run/" in p.read_text()]
EXPERIMENTS = [p for p in YAML if "evo_fastslow.experiment/" in p.read_text()]
SCRIPTS = sorted((ROOT / "studies").glob("*/*.py"))
TINY = {"budget.train_env_steps": 8000, "budget.test_episodes": 20, "population": 6, "generations": 1,
        "cluster.workers": 0}


def test_the_studies_are_apart_from_the_product():
    assert {p.name for p in STUDIES} >= {"bandit-agent", "learner-probes", "inheritance", "intrinsic", "failures",
                                         "selection-map"}
    assert len(CONFIGS) >= 8 and len(EXPERIMENTS) == 2
    assert all((study / "README.md").is_file() for study in STUDIES)
    assert len(list((ROOT / "configs").glob("*.yaml"))) <= 10  # only the examples a user copies
    assert sorted(p.name for p in (ROOT / "populations").glob("*.json")) == ["evolved.json", "reference.json"]
    assert not (ROOT / "experiments").exists()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_a_study_config_loads_from_its_folder(config, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the repository's root: paths resolve from the config's folder
    loaded = load_config(config)
    assert loaded.fitness_suites() and (loaded.seed_population is None or loaded.seed_genomes(str(config)))


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.parent.name)
def test_a_study_experiment_names_configs_that_load(experiment):
    spec = load_experiment(experiment)
    for arm in spec.arms:
        assert load_config(ROOT / arm.config, arm.set).name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_study_script_starts(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "usage" in proc.stdout, proc.stderr[-2000:]


def test_the_bandit_agent_check_compares_archive_digests(tmp_path):
    """A tiny run of the study's first config; a genome file recording its digest is `the same`, one recording
    another digest `DIFFERENT` (exit 1)."""
    config = "studies/bandit-agent/configs/bandit-agent.yaml"
    run_dir = tmp_path / "run"
    api.evolve(ROOT / config, TINY, run_dir=run_dir)
    sys.path.insert(0, str(ROOT / "studies" / "bandit-agent"))
    try:
        from bandit_agent import archive_digest
    finally:
        sys.path.pop(0)
    digest = archive_digest(run_dir)
    for recorded, status, verdict in ((digest, 0, "the same"), ("0" * 64, 1, "DIFFERENT")):
        genomes = tmp_path / "evolved.json"
        genomes.write_text(json.dumps({"schema": "evo_fastslow.genomes/1", "genomes": [
            {"name": "bandit-agent", "genes": {}, "provenance": {"archive_digest": recorded}}]}))
        proc = subprocess.run([sys.executable, "studies/bandit-agent/bandit_agent.py", "--config", config,
                               "--run-dir", str(run_dir), "--check", "--out", str(genomes)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == status and verdict in proc.stdout, proc.stdout + proc.stderr[-2000:]
