"""Genomes re-run on fresh seeds: the replicate lifetimes behind `validate` and `ablate`.

Replicate r of every genome uses the same lifetime seed and the same held-out tasks (common random
numbers), derived from the study's root seed under names evolution never uses, so a replicate is a
fresh draw for a genome selected by evolution. Each replicate lands in the archive as it finishes
(keyed by genes, study and r): an interrupted study resumes, and `ablate` reuses `validate`'s lifetimes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from evo_fastslow.statistics import Interval, mean_interval
from evo_fastslow.archive import Archive
from evo_fastslow.console import LogProgress
from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.evolution.cluster.evaluator import Job, open_evaluator
from evo_fastslow.evolution.evaluate import evaluate
from evo_fastslow.lifetime.reference import baseline_results
from evo_fastslow.seeds import derive_seed
from evo_fastslow.suite import FitnessSuite
from evo_fastslow.weights import WeightStore

RAW_MEASURES = ("test_regret", "test_mean_reward")  # a suite's raw figures, beside its fitness
WEIGHTS_KEY = "@weights"  # in a replicate's key: the hash of the initial weights, when not fresh


@dataclass
class Study:
    """Where replicates run and what they measure."""

    suites: list[FitnessSuite]
    root_seed: int
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    evaluate_fn: Callable[..., dict[str, Any]] = evaluate

    @property
    def key(self) -> str:
        """Which suites at which budgets, and which seeds: replicates of another study are other lifetimes."""
        data = json.dumps([self.root_seed, [s.model_dump(mode="json") for s in self.suites]], sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def seeds(self, replicate: int) -> tuple[int, int]:
        """(lifetime seed, task seed) of replicate r, the same for every genome."""
        return (derive_seed(self.root_seed, "replicate", "lifetime", replicate),
                derive_seed(self.root_seed, "replicate", "tasks", replicate))


def run_replicates(study: Study, genomes: list[dict[str, Any]], replicates: int, archive: Archive,
                   console: Console, weights: list[str] | None = None, store: WeightStore | None = None
                   ) -> list[list[dict[str, Any]]]:
    """Outcomes [genome][replicate], evaluating on the study's cluster only what the archive lacks.
    `weights`: per genome, the hash of the initial weights (in `store`) its lifetimes start from ('' fresh);
    a replicate is then keyed by genes and that hash."""
    key = study.key
    keyed = [{**g, WEIGHTS_KEY: w} if w else g for g, w in zip(genomes, weights or [""] * len(genomes))]
    unique = {json.dumps(g, sort_keys=True): g for g in keyed}
    jobs, where = [], {}
    for genome in unique.values():
        genes = {k: v for k, v in genome.items() if k != WEIGHTS_KEY}
        blob = store.get(genome[WEIGHTS_KEY]) if WEIGHTS_KEY in genome and store else None
        for r in range(replicates):
            if archive.replicate(genome, key, r) is None:
                seed, task_seed = study.seeds(r)
                jobs.append(Job(len(jobs), genes, seed, task_seed, weights=blob,
                                weights_hash=genome.get(WEIGHTS_KEY, "")))
                where[len(jobs) - 1] = (genome, r)
    if jobs:
        with open_evaluator(study.cluster, study.suites, study.evaluate_fn) as evaluator, \
                LogProgress(TextColumn("[bold]replicates[/]"), BarColumn(), MofNCompleteColumn(),
                         TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), console=console,
                         transient=True) as bar:
            if evaluator.dashboard:
                console.print(f"Dask dashboard: {evaluator.dashboard}")
            task = bar.add_task("", total=len(jobs), failed=0)
            failed = 0
            for job_key, outcome in evaluator.run(jobs):
                genes, r = where[job_key]
                seed, task_seed = study.seeds(r)
                archive.add_replicate(genes, key, r, seed, task_seed, _kept(outcome))
                failed += outcome["status"] != "ok"
                bar.update(task, advance=1, failed=failed)
    return [[archive.replicate(g, key, r) for r in range(replicates)] for g in keyed]


def _kept(outcome: dict[str, Any]) -> dict[str, Any]:
    """What a replicate keeps: the outcome without curves and timings."""
    return {k: outcome[k] for k in ("status", "reason", "fitness", "scores", "metrics", "fingerprint")}


def summary(outcomes: list[dict[str, Any]], suites: list[FitnessSuite]) -> dict[str, Any]:
    """Fitness and each suite's raw measures over a genome's replicates, with 95% intervals. A failed
    replicate counts at its recorded (worst) fitness and is left out of the raw measures."""
    ok = [o for o in outcomes if o["status"] == "ok"]
    result: dict[str, Any] = {"fitness": mean_interval([o["fitness"] for o in outcomes]),
                              "failures": [f"{o['status']}: {o['reason']}" for o in outcomes if o["status"] != "ok"]}
    for suite in suites:
        for measure in RAW_MEASURES:
            result[f"{suite.name}.{measure}"] = mean_interval([o["metrics"][suite.name][measure] for o in ok])
    return result


def baseline_summary(study: Study, replicates: int, archive: Archive) -> dict[str, dict[str, Interval]]:
    """Each suite's baselines on the replicates' own held-out tasks: {suite.measure: {policy: interval}}.
    Computed in this process (they are cheap) and kept in the archive."""
    figures: dict[str, dict[str, list[float]]] = {}
    for suite in study.suites:
        for r in range(replicates):
            task_seed = derive_seed(study.seeds(r)[1], suite.name)  # as evaluate() derives it per suite
            per_policy = archive.replicate_baselines(suite.name + "@" + study.key, task_seed)
            if per_policy is None:
                per_policy = {name: {m: b[m] for m in (*RAW_MEASURES, "normalized_score")}
                              for name, b in baseline_results(suite, task_seed).items()}
                archive.set_replicate_baselines(suite.name + "@" + study.key, task_seed, per_policy)
            for name, values in per_policy.items():
                for measure in RAW_MEASURES:
                    figures.setdefault(f"{suite.name}.{measure}", {}).setdefault(name, []).append(values[measure])
    return {measure: {name: mean_interval(v) for name, v in by_policy.items()} for measure, by_policy in figures.items()}
