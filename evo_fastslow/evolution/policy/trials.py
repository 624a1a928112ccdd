"""The trials of a run (evolution/policy/selection.py): their seeds and budgets, their outcomes, who asked first,
and how a genome's finished plan becomes its archived evaluation.

A trial's outcome depends only on its subject (genes and initial weights), rung and replicate, so it is
computed once and reused by every genome with that subject (an elite, a duplicate child, a race).
What a plan may see is decided by who first asked for a trial: `view(visible)` holds the trials whose
first request passes `visible(genome_id, round)` — a function of indices, never of arrival times.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
from evo_fastslow.evolution.cluster.evaluator import Job
from evo_fastslow.evolution.policy.selection import (Decision, EvaluationConfig, Trial, View, plan_step,
                                              replicates_at)
from evo_fastslow.genome import identity_genes
from evo_fastslow.lifetime import expected_cost
from evo_fastslow.seeds import derive_seed
from evo_fastslow.statistics import mean_interval
from evo_fastslow.suite import FitnessSuite


@dataclass(frozen=True)
class Subject:
    genes: dict[str, Any]
    weights: bytes | None
    weights_hash: str


def subject_key(genes: dict[str, Any], weights_hash: str) -> str:
    text = json.dumps(identity_genes(genes), sort_keys=True) + "|" + weights_hash
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scaled_suites(suites: list[FitnessSuite], fraction: float) -> list[FitnessSuite]:
    """The suites with `fraction` of their lifetime budget (at least one env-step)."""
    if fraction == 1.0:
        return suites
    return [s.model_copy(update={"lifetime": s.lifetime.model_copy(
        update={"train_env_steps": max(1, round(s.lifetime.train_env_steps * fraction))})}) for s in suites]


class TrialBook:
    """Every trial of the run, in memory and in the archive's `trials` table."""

    def __init__(self, archive: Archive, config: EvaluationConfig, run_seed: int, suites: list[FitnessSuite],
                 keep_final_weights: bool = False):
        self.archive, self.config, self.run_seed = archive, config, run_seed
        self.suites = [scaled_suites(suites, f) for f in config.rungs]
        self.keep_final_weights = keep_final_weights
        self.subjects: dict[str, Subject] = {}
        self.outcomes: dict[Trial, dict[str, Any]] = archive.trials()   # finished (a resume starts with them)
        self.first: dict[Trial, tuple[int, int]] = {}    # (genome id, round) of the first request
        self.order: dict[str, int] = {}                  # subject -> first genome id that had it

    def register(self, record: GenomeRecord, weights: bytes | None, weights_hash: str) -> str:
        key = subject_key(record.genes, weights_hash)
        self.subjects.setdefault(key, Subject(dict(record.genes), weights, weights_hash))
        self.order[key] = min(self.order.get(key, record.id), record.id)
        return key

    def request(self, trial: Trial, genome_id: int, round_: int = 0) -> None:
        self.first[trial] = min(self.first.get(trial, (genome_id, round_)), (genome_id, round_))

    def env_steps(self, rung: int) -> int:
        return sum(s.lifetime.train_env_steps for s in self.suites[rung])

    def job(self, trial: Trial) -> Job:
        """Replicate r's seeds are the same for every genome: common random numbers across the run."""
        subject, suites = self.subjects[trial.subject], self.suites[trial.rung]
        keep = self.keep_final_weights and trial.replicate == 0  # lamarckian: what a child would start from
        return Job(trial, subject.genes, derive_seed(self.run_seed, "pool", trial.replicate, "lifetime"),
                   derive_seed(self.run_seed, "pool", trial.replicate, "tasks"),
                   cost=sum(expected_cost(subject.genes, s) for s in suites), weights=subject.weights,
                   weights_hash=subject.weights_hash, keep_weights=keep, suites=suites)

    def record(self, trial: Trial, outcome: dict[str, Any], final_weights: str = "") -> None:
        """Archived the moment it arrives."""
        if final_weights:
            outcome = {**outcome, "final_weights": final_weights}
        subject = self.subjects[trial.subject]
        self.archive.add_trial(trial.subject, trial.rung, trial.replicate, subject.genes, subject.weights_hash,
                               self.env_steps(trial.rung), outcome, self.first[trial][0])
        self.outcomes[trial] = outcome

    def view(self, visible: Callable[[int, int], bool], extra: set[Trial] = frozenset()) -> View:
        scores: dict[str, dict[tuple[int, int], float]] = {}
        for trial, (genome_id, round_) in self.first.items():
            if trial in self.outcomes and (trial in extra or visible(genome_id, round_)):
                scores.setdefault(trial.subject, {})[(trial.rung, trial.replicate)] = self.outcomes[trial]["fitness"]
        return View(scores, self.order)


@dataclass
class Plan:
    """One genome's evaluation: it asks the book for trials until its decision is made."""
    record: GenomeRecord
    subject: str
    visible: Callable[[int, int], bool]
    revisit: bool
    requested: set[Trial] = field(default_factory=set)
    decision: Decision | None = None

    def advance(self, book: TrialBook, round_: int | None = None) -> list[Trial]:
        """The trials it waits for now (none: decided, or in rounds: its next step waits for the next round).
        Without rounds, trials already known are used at once; in rounds, each step takes a round whether
        its trials were known or not, so that a resumed generation sees what the uninterrupted one saw."""
        while self.decision is None:
            view = book.view(self.visible, self.requested)
            step = plan_step(self.subject, view.scores.get(self.subject, {}), view, book.config, self.revisit)
            if isinstance(step, Decision):
                self.decision = step
                break
            for trial in step:
                self.requested.add(trial)
                book.request(trial, self.record.id, round_ or 0)
            pending = [t for t in step if t not in book.outcomes]
            if pending or round_ is not None:
                return pending
        return []

    def evaluation(self, book: TrialBook) -> Evaluation:
        """The genome's archived evaluation: the mean over its replicates at the rung it reached."""
        assert self.decision is not None
        rung = self.decision.rung
        view = book.view(self.visible, self.requested)
        own = view.scores.get(self.subject, {})
        outcomes = [book.outcomes[Trial(self.subject, rung, r)] for r in replicates_at(own, rung)]
        return evaluation_of(self.record.id, outcomes, rung, self.decision.reason)

    def final_weights(self, book: TrialBook) -> str:
        """Where replicate 0 ended at the rung the genome reached (lamarckian children start there)."""
        assert self.decision is not None
        outcome = book.outcomes.get(Trial(self.subject, self.decision.rung, 0), {})
        return outcome.get("final_weights", "")


def evaluation_of(genome_id: int, outcomes: list[dict[str, Any]], rung: int, decision: str) -> Evaluation:
    """A genome's evaluation from its trials' outcomes at one rung: their mean with its interval, or the
    first failure (a genome that failed once is not averaged with its successes)."""
    failed = [o for o in outcomes if o["status"] != "ok"]
    if failed or not outcomes:
        first = failed[0] if failed else {"status": "error", "reason": "no trial"}
        return _evaluation(genome_id, first, [first], rung, decision)
    return _evaluation(genome_id, _mean_outcome(outcomes), outcomes, rung, decision)


def _mean_outcome(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Fitness and scores averaged over replicates; numeric metrics too; curves of replicate 0."""
    first = outcomes[0]
    scores = {suite: sum(o["scores"][suite] for o in outcomes) / len(outcomes) for suite in first["scores"]}
    metrics = {}
    for suite, values in first["metrics"].items():
        metrics[suite] = {k: (sum(o["metrics"][suite][k] for o in outcomes) / len(outcomes)
                              if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                          for k, v in values.items()}
    return {**first, "fitness": sum(o["fitness"] for o in outcomes) / len(outcomes), "scores": scores,
            "metrics": metrics}


def _interval(values: list[float]) -> tuple[float, float]:
    """The replicates' 95% t interval (NaN for one replicate)."""
    found = mean_interval(values)
    return found.low, found.high


def _evaluation(genome_id: int, outcome: dict[str, Any], outcomes: list[dict[str, Any]], rung: int,
                decision: str) -> Evaluation:
    values = [o["fitness"] for o in outcomes]
    low, high = _interval(values) if outcome["status"] == "ok" else (math.nan, math.nan)
    return Evaluation(genome_id, outcome["status"], outcome.get("reason", ""), outcome.get("fitness", -1.0e9),
                      outcome.get("scores", {}), outcome.get("metrics", {}), outcome.get("curves", {}),
                      sum(o.get("wall_seconds", 0.0) for o in outcomes), outcome.get("worker", ""),
                      outcome.get("fingerprint", ""), replicates=len(outcomes), ci_low=low, ci_high=high, rung=rung,
                      decision=decision)
