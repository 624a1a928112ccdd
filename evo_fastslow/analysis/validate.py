"""`validate`: re-measure selected genomes on fresh lifetime seeds and fresh held-out tasks.

Evolution keeps the luckiest draws, so a genome's selection fitness is optimistic (the winner's
curse). Validation re-runs each genome N times and reports the mean fitness and the suites' raw
measures with 95% intervals, beside the suites' baselines on the very same tasks."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from evo_fastslow.analysis.replicates import RAW_MEASURES, baseline_summary, run_replicates, summary
from evo_fastslow.analysis.sources import Candidate, Source
from evo_fastslow.statistics import format_interval

MEASURE_NAMES = {"test_regret": "regret", "test_mean_reward": "reward / trial"}


def validate(source: Source, candidates: list[Candidate], seeds: int, console: Console) -> dict[str, Any]:
    """The validation report (plain data); a run's archive keeps it (meta `validation`) for `report`."""
    suites = source.study.suites
    outcomes = run_replicates(source.study, [c.genes for c in candidates], seeds, source.archive, console,
                              [c.weights for c in candidates], source.store)
    genomes = []
    for candidate, replicates in zip(candidates, outcomes):
        measured = summary(replicates, suites)
        validated = measured["fitness"]
        genomes.append({
            "label": candidate.label, "genome_id": candidate.genome_id, "genes": candidate.genes,
            "weights": candidate.weights,
            "selection_fitness": candidate.selection, "validated_fitness": validated.to_dict(),
            "optimism": None if candidate.selection is None else candidate.selection - validated.mean,
            "measures": {k: v.to_dict() for k, v in measured.items() if k not in ("fitness", "failures")},
            "failures": measured["failures"]})
    baselines = baseline_summary(source.study, seeds, source.archive)
    report = {"seeds": seeds, "root_seed": source.study.root_seed, "suites": [s.name for s in suites],
              "genomes": genomes,
              "baselines": {m: {p: i.to_dict() for p, i in by.items()} for m, by in baselines.items()}}
    if source.run_dir is not None:
        source.archive.set_meta("validation", report)
    return report


def validation_tables(report: dict[str, Any]) -> list[Table]:
    genomes = Table(title=f"validated on {report['seeds']} fresh seeds (mean [95% CI])")
    for column in ("genome", "selection fitness", "validated fitness", "optimism"):
        genomes.add_column(column, justify="left" if column == "genome" else "right")
    measures = [f"{s}.{m}" for s in report["suites"] for m in RAW_MEASURES]
    for measure in measures:
        suite, name = measure.split(".")
        genomes.add_column(f"{suite}: {MEASURE_NAMES[name]}", justify="right")
    for g in report["genomes"]:
        selection = "-" if g["selection_fitness"] is None else f"{g['selection_fitness']:.3f}"
        optimism = "-" if g["optimism"] is None else f"{g['optimism']:+.3f}"
        genomes.add_row(g["label"] + (f" ({len(g['failures'])} failed)" if g["failures"] else ""), selection,
                        format_interval(g["validated_fitness"]), optimism, *(format_interval(g["measures"][m]) for m in measures))
    tables = [genomes]
    for suite in report["suites"]:
        baselines = Table(title=f"{suite}: baselines on the same held-out tasks")
        baselines.add_column("policy")
        for name in RAW_MEASURES:
            baselines.add_column(MEASURE_NAMES[name], justify="right")
        by_policy = report["baselines"].get(f"{suite}.{RAW_MEASURES[0]}", {})
        for policy in sorted(by_policy, key=lambda p: by_policy[p]["mean"]):
            baselines.add_row(policy, *(format_interval(report["baselines"][f"{suite}.{m}"][policy]) for m in RAW_MEASURES))
        tables.append(baselines)
    return tables
