"""What a study re-runs: the genomes of a run directory (its archive, suites, seed and cluster) or of a
genome file (suites given on the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evo_fastslow.analysis.replicates import Study
from evo_fastslow.archive import Archive, GenomeRecord
from evo_fastslow.errors import InputError, run_directory
from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.evolution.inheritance import WEIGHTS_FOLDER
from evo_fastslow.genome import SEARCH_SPACE, SearchSpace, load_genome, load_genomes
from evo_fastslow.suite import load_suite
from evo_fastslow.weights import WeightStore


@dataclass(frozen=True)
class Candidate:
    label: str
    genes: dict[str, Any]
    genome_id: int | None = None      # in the run's archive
    selection: float | None = None    # the fitness evolution selected it with
    weights: str = ""                 # hash of its initial weights (baldwinian, lamarckian runs), '' = fresh


@dataclass
class Source:
    study: Study
    archive: Archive
    space: SearchSpace
    searched: list[str]               # genes the run varied (a genome file: every gene)
    run_dir: Path | None = None

    @property
    def store(self) -> WeightStore | None:
        return WeightStore(self.run_dir / WEIGHTS_FOLDER) if self.run_dir else None

    def candidate(self, record: GenomeRecord, fitness: float) -> Candidate:
        """A genome of the run as evaluated: its genes and the weights its lifetime started from."""
        weights = self.archive.weights(record.id)
        return Candidate(f"genome {record.id}", record.genes, record.id, fitness, weights[0] if weights else "")

    def front(self) -> list[Candidate]:
        """The run's Pareto front of fitness against parameters (analysis/maps.py), cheapest first."""
        from evo_fastslow.analysis.maps import front

        return [self.candidate(r, e.fitness) for r, e, _ in front(self.archive)]

    def top(self, k: int) -> list[Candidate]:
        """The k best distinct genomes of the run (a genome carried over as an elite counts once)."""
        seen, found = set(), []
        for record, evaluation in self.archive.ranked():
            candidate = self.candidate(record, evaluation.fitness)
            key = (tuple(sorted(record.genes.items())), candidate.weights)
            if evaluation.status != "ok" or key in seen:
                continue
            seen.add(key)
            found.append(candidate)
            if len(found) == k:
                break
        return found


def open_source(path: str, suite_files: list[str] | None, seed: int | None, workers: int | None,
                keep: str | None = None) -> Source:
    """A run directory or a genome file (FILE or FILE:NAME). For a run, `suite_files` replace its suites,
    `workers` its cluster (a LocalCluster of that many workers, 0 in-process). A genome file's replicates
    are kept in the archive file `keep` (none: in memory)."""
    if not path.strip():
        raise InputError('""', "RUN_DIR|GENOME_FILE", "a run directory or a genome file, not an empty path")
    run_dir = Path(path)
    override = None if workers is None else ClusterConfig(workers=workers)
    if run_dir.is_dir():
        from evo_fastslow.evolution.rundir import read_run_config

        run_directory(run_dir)
        config = read_run_config(run_dir)
        suites = [load_suite(f) for f in suite_files] if suite_files else config.fitness_suites()
        study = Study(suites, config.seed if seed is None else seed, override or config.cluster)
        space = config.space()
        searched = [n for n in space.genes if n not in space.fixed]
        return Source(study, Archive(run_dir / "archive.sqlite", create=False), space, searched, run_dir)
    if not Path(path.partition(":")[0]).is_file() and not Path(path).is_file():
        raise InputError(path, "file", "a run directory or a genome file (FILE or FILE:NAME)")
    if not suite_files:
        raise InputError(path, "--suite", "at least one fitness suite file to evaluate a genome file on")
    study = Study([load_suite(f) for f in suite_files], seed or 0, override or ClusterConfig())
    return Source(study, Archive(keep or ":memory:"), SEARCH_SPACE, list(SEARCH_SPACE.genes))


def file_candidates(path: str) -> list[Candidate]:
    """The genomes of a genome file (FILE:NAME picks one)."""
    file, _, name = path.partition(":")
    genomes = [load_genome(path)] if name else load_genomes(file)
    return [Candidate(g.name or f"genome {i}", SEARCH_SPACE.complete(g.genes).genes) for i, g in enumerate(genomes)]
