"""What a driver may use: evaluate genomes (jobs, trial plans), archive what comes back, turn evaluations
into what a searcher is told, and report progress. The run (evolution/loop.py) builds one and hands it to
its driver; a driver never sees the run itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord, Trial
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.cluster.evaluator import Evaluator, Job
from evo_fastslow.evolution.config import RunConfig
from evo_fastslow.evolution.inheritance import Inheritance
from evo_fastslow.evolution.policy.selection import selection_value
from evo_fastslow.evolution.policy.trials import Plan, TrialBook
from evo_fastslow.evolution.rundir import CHECKPOINT_FILE, atomic_write, digest
from evo_fastslow.evolution.searchers.base import Result
from evo_fastslow.evolution.stats import GenerationStats
from evo_fastslow.evolution.tracking import Tracker
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime import expected_cost
from evo_fastslow.seeds import derive_seed


@dataclass
class RunContext:
    """One run's evaluation services and progress, for its driver."""
    config: RunConfig
    run_dir: Path
    archive: Archive
    evaluator: Evaluator
    inheritance: Inheritance
    book: TrialBook | None          # the run's trials, unless it evaluates one lifetime per genome
    tracker: Tracker
    console: Console
    fingerprint: str = ""           # the run's numeric fingerprint digest
    best_so_far: Evaluation | None = None   # the best successful evaluation so far, for progress bars
    history: list[GenerationStats] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)  # other digests already warned about

    def __post_init__(self) -> None:
        self.suites = self.config.fitness_suites()
        self.popsize, self.generations = self.config.population, self.config.generations
        for evaluation in self.archive.evaluations().values():
            self.note_best(evaluation)

    # --- what a searcher is told
    def value(self, evaluation: Evaluation) -> float:
        """The fitness, ranked by budget rung first (evolution/policy/selection.py)."""
        return selection_value(evaluation.fitness, evaluation.rung, self.config.evaluation, evaluation.decision)

    def result(self, genome: Genome, evaluation: Evaluation) -> Result:
        return Result(evaluation.genome_id, genome, self.value(evaluation), evaluation.fitness,
                      evaluation.status == "ok", evaluation.replicates, evaluation.rung, self.config.evaluation.top,
                      (evaluation.ci_low, evaluation.ci_high), evaluation.decision, evaluation.metrics)

    # --- evaluating one lifetime per genome (runs made before trials existed)
    def job(self, record: GenomeRecord) -> Job:
        """The evaluation of a genome: its lifetime seed, and its generation's task draw (common random numbers)."""
        seed = derive_seed(self.config.seed, "lifetime", record.generation, record.idx)
        weights, weights_hash = self.inheritance.prepare(record, seed)
        return Job(record.id, record.genes, seed, derive_seed(self.config.seed, "tasks", record.generation),
                   cost=sum(expected_cost(record.genes, s) for s in self.suites), weights=weights,
                   weights_hash=weights_hash, keep_weights=self.inheritance.keeps_final_weights)

    def archive_outcome(self, key: int, outcome: dict[str, Any]) -> Evaluation:
        """Check and archive an outcome; its end-of-lifetime weights (lamarckian) are stored first, so an
        archived evaluation always has them."""
        weights = outcome.pop("weights", None)
        evaluation = Evaluation(genome_id=key, **outcome)
        self.check_fingerprint(evaluation.fingerprint, evaluation.worker, f"genome {evaluation.genome_id}")
        if weights is not None:
            self.inheritance.record_final(key, weights)
        self.archive.add_evaluation(evaluation)
        self.note_best(evaluation)
        return evaluation

    # --- evaluating by trials (evolution/policy/): plans, landing a trial, finishing a genome
    def open_plan(self, record: GenomeRecord, visible: Any, seen: Any) -> Plan:
        """The plan of `record`: its subject (genes and the initial weights inheritance gives it) registered;
        `seen` tells which trials count as its own earlier evidence (a re-proposed genome gains a replicate)."""
        assert self.book is not None
        subject = self.subject(record)
        revisit = subject in self.book.view(seen).scores
        return Plan(record, subject, visible, revisit)

    def subject(self, record: GenomeRecord) -> str:
        """The subject of `record` (its genes and the initial weights inheritance gives it), registered."""
        assert self.book is not None
        seed = derive_seed(self.config.seed, "lifetime", record.generation, record.idx)
        weights, weights_hash = self.inheritance.prepare(record, seed)
        return self.book.register(record, weights, weights_hash)

    def land(self, trial: Trial, outcome: dict[str, Any]) -> bool:
        """Check and archive a trial's outcome (its end-of-lifetime weights first); True if it failed."""
        assert self.book is not None
        weights = outcome.pop("weights", None)
        self.check_fingerprint(outcome.get("fingerprint", ""), outcome.get("worker", ""),
                               f"genome {self.book.first[trial][0]}", f" (a trial at rung {trial.rung}, replicate "
                               f"{trial.replicate})")
        final = self.inheritance.store.put(weights) if weights is not None else ""
        self.book.record(trial, outcome, final)
        return outcome["status"] != "ok"

    def finish(self, plan: Plan) -> Evaluation:
        """Archive a decided genome's evaluation (lamarckian: with the weights its replicate 0 ended with)."""
        assert self.book is not None
        evaluation = plan.evaluation(self.book)
        if self.inheritance.keeps_final_weights and evaluation.status == "ok" and plan.final_weights(self.book):
            self.archive.set_final_weights(plan.record.id, plan.final_weights(self.book))
        self.archive.add_evaluation(evaluation)
        self.note_best(evaluation)
        return evaluation

    # --- checks and progress
    def check_fingerprint(self, digest_: str, worker: str, what: str, detail: str = "") -> None:
        """A worker that joined later with another fingerprint: warn once (strict: stop, nothing archived)."""
        if digest_ and not self.fingerprint:  # no worker had joined at the start (adaptive): the first sets it
            self.fingerprint = digest_
        if not digest_ or digest_ == self.fingerprint or digest_ in self._warned:
            return
        problem = (f"{what} was computed by {worker or 'a worker'} with numeric "
                   f"fingerprint {digest_}, the run's is {self.fingerprint}{detail}")
        if self.config.reproducibility == "strict":
            raise InputError(str(self.run_dir), "reproducibility: strict", "one numeric fingerprint; " + problem)
        self._warned.add(digest_)
        self.console.print(f"[yellow]warning:[/] {problem}: the archive will not be reproducible")

    def note_best(self, evaluation: Evaluation) -> None:
        if evaluation.status == "ok" and (self.best_so_far is None
                                          or self.value(evaluation) > self.value(self.best_so_far)):
            self.best_so_far = evaluation

    def best_text(self) -> str:
        """The best fitness so far with its evidence: '0.812 [0.78, 0.84] n=4'."""
        best = self.best_so_far
        if best is None:
            return "-"
        if best.replicates < 2:
            return f"{best.fitness:.3f}"
        return f"{best.fitness:.3f} [{best.ci_low:.3f}, {best.ci_high:.3f}] n={best.replicates}"

    def check_replay(self, generation: int, records: list[GenomeRecord], fitnesses: list[float],
                     replayed: dict[str, Any] | None) -> None:
        """On resume, the checkpointed generation must replay to the digest it was checkpointed with."""
        if replayed is not None and generation == replayed["generation"] \
                and digest(records, fitnesses) != replayed["digest"]:
            raise InputError(str(self.run_dir), CHECKPOINT_FILE,
                             f"a checkpoint that the archive reproduces: generation {generation} replays "
                             "differently (the searcher's code or the config changed since)")

    def finish_generation(self, stats: GenerationStats, started: float, meta: dict[str, Any] | None = None
                          ) -> None:
        """A generation (or epoch) is in: its summary and the searcher's `meta` archived, the checkpoint
        written, trackers told, one line printed."""
        archive = self.archive
        archive.end_generation(stats.generation, stats.best, stats.mean, stats.best_id, stats.evaluations,
                               stats.failures, stats.wall_seconds)
        for key, value in (meta or {}).items():
            archive.set_meta(key, value)
        records = archive.genomes(stats.generation)
        evaluations = archive.evaluations([r.id for r in records])
        atomic_write(self.run_dir / CHECKPOINT_FILE, json.dumps(
            {"generation": stats.generation, "digest": digest(records, [evaluations[r.id].fitness for r in records]),
             "searcher": self.config.searcher.name}))
        self.history.append(stats)
        self.tracker.generation(stats, archive, records, evaluations, self.env_steps_spent())
        best = evaluations.get(stats.best_id) or archive.evaluations([stats.best_id]).get(stats.best_id)
        evidence = (f" [{best.ci_low:.3f}, {best.ci_high:.3f}] n={best.replicates}"
                    if best is not None and best.replicates > 1 else "")
        found = (f"best {stats.best:.3f}{evidence} (genome {stats.best_id}), mean {stats.mean:.3f}"
                 if stats.failures < stats.evaluations else "no evaluation succeeded")
        self.console.print(
            f"generation {stats.generation + 1}/{self.generations}: {found}, {stats.failures} failed, "
            f"{self.spent_text()}{stats.wall_seconds:.1f} s, elapsed {time.perf_counter() - started:.0f} s")

    def env_steps_spent(self) -> int:
        """Env-steps of every lifetime so far (trials; or one full lifetime per evaluation)."""
        if self.book is not None:
            return int(self.archive.spending().get("env_steps", 0))
        return sum(s.lifetime.train_env_steps for s in self.suites) * len(self.archive.evaluations())

    def spent_text(self) -> str:
        """Trials and env-steps so far, per rung: 'trials 12 + 30, 1.2M env-steps (of 4.0M at full budget), '."""
        spent = self.archive.spending() if self.book is not None else {}
        if not spent:
            return ""
        full = sum(s.lifetime.train_env_steps for s in self.suites) * spent["genomes"]
        return (f"trials {' + '.join(str(n) for n in spent['trials'])}, {spent['env_steps'] / 1e6:.3g}M env-steps "
                f"(one full lifetime each: {full / 1e6:.3g}M), ")
