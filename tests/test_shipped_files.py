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
