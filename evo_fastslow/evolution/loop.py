"""The generation loop: the searcher proposes, the evaluator runs lifetimes, the archive keeps everything.

Resume without pickles: a run directory holds its resolved config, its archive and a checkpoint
(the last finished generation and a digest of it). `resume` rebuilds the searcher by replaying the
finished generations with the fitnesses the archive holds (searchers are deterministic given their
fitnesses), checks each replayed generation against the archive, then goes on; in the generation
that was in flight, only the genomes without an archived evaluation are evaluated.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.cluster import Evaluator, Job, open_evaluator
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.config import RunConfig, validate_config
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.evolution.searchers import Candidate, make_searcher
from evo_fastslow.lifetime import expected_cost
from evo_fastslow.seeds import derive_seed

CONFIG_FILE, ARCHIVE_FILE, CHECKPOINT_FILE = "config.yaml", "archive.sqlite", "checkpoint.json"


@dataclass
class GenerationStats:
    generation: int
    best: float
    mean: float              # over the evaluations that finished
    best_id: int
    evaluations: int
    failures: int
    wall_seconds: float
    lifetime_seconds: float  # the generation's lifetimes, summed


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _digest(records: list[GenomeRecord], fitnesses: list[float]) -> str:
    payload = [(r.id, r.genes, r.origin, r.parents, f) for r, f in zip(records, fitnesses)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.exists():
        raise InputError(str(run_dir), CONFIG_FILE, "a run directory made by `evo-fastslow evolve`")
    return validate_config(yaml.safe_load(path.read_text()), str(path))


class Run:
    """One evolution run in its directory."""

    def __init__(self, config: RunConfig, run_dir: Path, *, console: Console | None = None,
                 evaluate_fn: Callable[..., dict[str, Any]] = evaluate):
        self.config, self.run_dir = config, Path(run_dir)
        self.console = console or Console(stderr=True)
        self.evaluate_fn = evaluate_fn
        self.popsize = config.population
        self.history: list[GenerationStats] = []
        self.suites = config.fitness_suites()

    def id_of(self, generation: int, index: int) -> int:
        return generation * self.popsize + index

    def start(self) -> list[GenerationStats]:
        if (self.run_dir / ARCHIVE_FILE).exists():
            raise InputError(str(self.run_dir), "--out", "a new run directory (this one holds a run: resume it)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.run_dir / CONFIG_FILE,
                      yaml.safe_dump(self.config.model_dump(by_alias=True), sort_keys=False))
        return self._loop(checkpoint=None)

    def resume(self) -> list[GenerationStats]:
        path = self.run_dir / CHECKPOINT_FILE
        checkpoint = json.loads(path.read_text()) if path.exists() else None
        return self._loop(checkpoint)

    def _loop(self, checkpoint: dict[str, Any] | None) -> list[GenerationStats]:
        config = self.config
        space, suites = config.space(), self.suites
        seeds = config.seed_genomes(str(self.run_dir / CONFIG_FILE))
        searcher = make_searcher(space, config.searcher, self.popsize, config.seed, seeds, self.id_of)
        replay_until = checkpoint["generation"] if checkpoint else -1
        with Archive(self.run_dir / ARCHIVE_FILE) as archive, \
                open_evaluator(config.cluster, suites, self.evaluate_fn) as evaluator:
            archive.set_meta("config", config.model_dump(by_alias=True))
            if evaluator.dashboard:
                self.console.print(f"Dask dashboard: {evaluator.dashboard}")
            started = time.perf_counter()
            for generation in range(config.generations):
                stats = self._generation(generation, searcher, archive, evaluator,
                                         checkpoint if generation <= replay_until else None)
                if generation > replay_until:
                    self._finish_generation(stats, archive, started)
        return self.history

    def _generation(self, generation: int, searcher: Any, archive: Archive, evaluator: Evaluator,
                    replayed: dict[str, Any] | None) -> GenerationStats:
        start = time.perf_counter()
        result: dict[str, Any] = {}

        def evaluate_batch(candidates: list[Candidate]) -> list[float]:
            records = [GenomeRecord(self.id_of(generation, i), generation, i, dict(c.genome.genes), c.origin,
                                    list(c.parents)) for i, c in enumerate(candidates)]
            archive.add_genomes(records)
            outcomes = self._evaluate(generation, records, archive, evaluator)
            result.update(records=records, outcomes=outcomes)
            return [outcomes[r.id].fitness for r in records]

        searcher.step(generation, evaluate_batch)
        records, outcomes = result["records"], result["outcomes"]
        fitnesses = [outcomes[r.id].fitness for r in records]
        digest = _digest(records, fitnesses)
        if replayed is not None and generation == replayed["generation"] and digest != replayed["digest"]:
            raise InputError(str(self.run_dir), CHECKPOINT_FILE,
                             "a checkpoint that the archive reproduces (the code or config changed since)")
        best = max(range(len(records)), key=lambda i: (fitnesses[i], -i))
        failures = sum(outcomes[r.id].status != "ok" for r in records)
        finished = [f for r, f in zip(records, fitnesses) if outcomes[r.id].status == "ok"]
        mean = sum(finished) / len(finished) if finished else fitnesses[best]  # failures' worst value aside
        return GenerationStats(generation, fitnesses[best], mean, records[best].id,
                               len(records), failures, time.perf_counter() - start,
                               sum(outcomes[r.id].wall_seconds for r in records))

    def _evaluate(self, generation: int, records: list[GenomeRecord], archive: Archive,
                  evaluator: Evaluator) -> dict[int, Evaluation]:
        """Archived evaluations are reused; the rest run, each committed the moment it arrives."""
        done = archive.evaluations([r.id for r in records])
        task_seed = derive_seed(self.config.seed, "tasks", generation)  # common random numbers
        jobs = [Job(r.id, r.genes, derive_seed(self.config.seed, "lifetime", generation, r.idx), task_seed,
                    cost=sum(expected_cost(r.genes, s) for s in self.suites)) for r in records if r.id not in done]
        if not jobs:
            return done
        failed = 0
        with Progress(TextColumn(f"generation {generation + 1}/{self.config.generations}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} done, {task.fields[failed]} failed, "
                                 "{task.fields[running]} running"), TimeElapsedColumn(),
                      console=self.console, transient=True, refresh_per_second=2) as bar:
            task = bar.add_task("evaluations", total=len(jobs), failed=0,
                                running=min(len(jobs), evaluator.workers))
            for count, (key, outcome) in enumerate(evaluator.run(jobs), start=1):
                evaluation = Evaluation(genome_id=key, **outcome)
                archive.add_evaluation(evaluation)
                done[key] = evaluation
                failed += evaluation.status != "ok"
                bar.update(task, completed=count, failed=failed,
                           running=min(len(jobs) - count, evaluator.workers))
        return done

    def _finish_generation(self, stats: GenerationStats, archive: Archive, started: float) -> None:
        archive.end_generation(stats.generation, stats.best, stats.mean, stats.best_id, stats.evaluations,
                               stats.failures, stats.wall_seconds)
        records = archive.genomes(stats.generation)
        evaluations = archive.evaluations([r.id for r in records])
        digest = _digest(records, [evaluations[r.id].fitness for r in records])
        _atomic_write(self.run_dir / CHECKPOINT_FILE, json.dumps(
            {"generation": stats.generation, "digest": digest, "searcher": self.config.searcher.name}))
        self.history.append(stats)
        self.console.print(
            f"generation {stats.generation + 1}/{self.config.generations}: best {stats.best:.3f} "
            f"(genome {stats.best_id}), mean {stats.mean:.3f}, {stats.failures} failed, "
            f"{stats.wall_seconds:.1f} s, elapsed {time.perf_counter() - started:.0f} s")
