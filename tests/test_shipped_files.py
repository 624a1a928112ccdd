"""Every shipped suite and genome file loads."""

from pathlib import Path

import pytest

from evo_fastslow.genome import load_genomes
from evo_fastslow.suite import load_suite


@pytest.mark.parametrize("path", sorted(Path("fitness").glob("*.yaml")), ids=str)
def test_suites_load(path):
    suite = load_suite(path)
    assert suite.name == path.stem and suite.build_task().trials > 0


@pytest.mark.parametrize("path", sorted(Path("populations").glob("*.json")), ids=str)
def test_genome_files_load_with_provenance(path):
    for genome in load_genomes(path):
        assert genome.provenance, f"{genome.name} has no provenance"


@pytest.mark.parametrize("path", sorted(Path("configs").glob("*.yaml")), ids=str)
def test_run_configs_load(path):
    from evo_fastslow.evolution.config import load_config

    config = load_config(path)
    assert config.name and config.fitness_suites()


@pytest.mark.parametrize("path", sorted(Path("configs").glob("*.yaml")), ids=str)
def test_every_shipped_config_evolves_one_tiny_generation(path, tmp_path):
    """Each example config runs as shipped (its searcher, evaluation, search space, seeds), only smaller:
    one generation of 4 tiny lifetimes in-process."""
    from evo_fastslow.archive import Archive
    from evo_fastslow.evolution.config import load_config
    from evo_fastslow.evolution.loop import Run

    shipped = load_config(path)
    tiny = ["population=4", "generations=1", "budget.train_env_steps=3000", "budget.test_episodes=10",
            "cluster={workers: 0}", "tracking=null"]
    if getattr(shipped.searcher, "lag", 0) > 4:
        tiny.append("searcher.lag=4")
    config = load_config(path, tiny)
    assert config.searcher.name == shipped.searcher.name
    Run(config, tmp_path / "run").start()
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        evaluations = archive.evaluations()
    assert len(evaluations) == 4 and all(e.status == "ok" for e in evaluations.values())
