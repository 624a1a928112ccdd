"""How much evidence a run's selection rests on (evolution/policy/selection.py): genomes per rung and decision,
env-steps spent against one full lifetime per genome, and how sure the incumbent is the best of its peers."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
from rich.table import Table

from evo_fastslow.archive import Archive
from evo_fastslow.evolution.rundir import recorded_config


def top_evidence(archive: Archive, count: int) -> list[tuple[str, list[float]]]:
    """The `count` best distinct subjects by the archive's ranking, with every full-budget trial score
    they have now (an incumbent keeps gaining replicates after its own evaluation was archived)."""
    rows = archive.trial_rows()
    if not rows:
        return []
    top = max(r[3] for r in rows)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    subject_of: dict[tuple[str, str], str] = {}
    for subject, genes, weights, rung, _replicate, _steps, status, fitness in rows:
        if rung == top:
            key = (_canonical(genes), weights)
            scores[key].append(fitness)
            subject_of[key] = subject
    found, seen = [], set()
    for record, evaluation in archive.ranked():
        if evaluation.rung != top:
            continue
        for key in scores:
            if key[0] == _canonical(record.genes) and key not in seen:
                seen.add(key)
                found.append((subject_of[key], scores[key]))
                break
        if len(found) == count:
            break
    return found


def probability_best(evidence: list[tuple[str, list[float]]], resamples: int = 2000, seed: int = 0) -> float:
    """Bootstrap over each genome's replicates (independently): the share of resamples in which the first
    (the incumbent) has the highest mean."""
    if len(evidence) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    means = np.stack([rng.choice(np.asarray(s), size=(resamples, len(s))).mean(axis=1) for _, s in evidence])
    return float(np.mean(np.argmax(means, axis=0) == 0))


def evidence_report(archive: Archive, top: int = 3) -> dict[str, Any] | None:
    spent = archive.spending()
    if not spent:
        return None
    evaluations = archive.evaluations()
    config = recorded_config(archive)
    suites = config.get("embedded_suites", [])
    budget = config.get("budget", {}).get("train_env_steps")
    full = sum(budget or s["lifetime"]["train_env_steps"] for s in suites)
    evidence = top_evidence(archive, top)
    return {"genomes_per_rung": dict(sorted(Counter(e.rung for e in evaluations.values()).items())),
            "decisions": dict(Counter(e.decision.split(" by ")[0] for e in evaluations.values() if e.decision)),
            "trials_per_rung": spent["trials"], "env_steps": spent["env_steps"],
            "one_full_lifetime_each": full * spent["genomes"],
            "incumbent_replicates": [len(s) for _, s in evidence],
            "probability_incumbent_best": probability_best(evidence)}


def evidence_table(archive: Archive, top: int = 3) -> Table | None:
    report = evidence_report(archive, top)
    if report is None:
        return None
    table = Table(title="selection's evidence")
    table.add_column("measure", no_wrap=True)
    table.add_column("value")
    table.add_row("genomes per rung reached", ", ".join(f"rung {k}: {n}" for k, n in report["genomes_per_rung"].items()))
    table.add_row("decisions", ", ".join(f"{k}: {n}" for k, n in sorted(report["decisions"].items())))
    table.add_row("trials per rung", " + ".join(str(n) for n in report["trials_per_rung"]))
    table.add_row("env-steps spent", f"{report['env_steps'] / 1e6:.3g}M (one full lifetime per genome: "
                  f"{report['one_full_lifetime_each'] / 1e6:.3g}M)")
    table.add_row(f"P(incumbent is the best of the top {top})",
                  f"{report['probability_incumbent_best']:.2f} (bootstrap over replicates "
                  f"{report['incumbent_replicates']})")
    return table


def _canonical(genes: dict[str, Any]) -> str:
    import json

    return json.dumps(genes, sort_keys=True)
