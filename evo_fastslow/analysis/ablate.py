"""`ablate`: which of a genome's evolved biases matter, and how much.

One searched gene changes at a time (every other choice of a categorical gene, both ends of a numeric
gene's range; `GENE=VALUE` tries that value alone, as the selection map's removals do); the genome and
each change are re-run on the same N replicate seeds (common random numbers), and each change's effect is the paired difference with its 95% interval. Across the whole
archive, gene importance is the permutation importance (scikit-learn) of a random forest fitted to
every evaluated genome's fitness."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from evo_fastslow.analysis.replicates import RAW_MEASURES, run_replicates
from evo_fastslow.evolution.evaluate import architecture
from evo_fastslow.analysis.sources import Candidate, Source
from evo_fastslow.statistics import format_interval, paired_interval
from evo_fastslow.archive import Archive
from evo_fastslow.errors import InputError
from evo_fastslow.genes import Bool, Categorical
from evo_fastslow.genome import SearchSpace


def changes(genes: dict[str, Any], space: SearchSpace, names: list[str]) -> list[tuple[str, Any]]:
    """(gene, new value) for every single-gene change to try: GENE tries every other value, GENE=VALUE that
    value (none where the genome already has it)."""
    found = []
    for spec in names:
        name, value = parse_change(spec, space)
        gene = space.genes[name]
        if value is not None:
            values = [value]
        elif isinstance(gene, Categorical):
            values = [c for c in gene.choices if c != genes[name]]
        elif isinstance(gene, Bool):
            values = [not genes[name]]
        else:
            values = sorted({gene.decode(0.0), gene.decode(1.0)})
        found += [(name, v) for v in values if v != genes[name]]
    return found


def parse_change(spec: str, space: SearchSpace) -> tuple[str, Any]:
    """`GENE` -> (gene, None); `GENE=VALUE` -> (gene, the value checked by the gene), or a clear error."""
    import yaml

    name, equals, text = spec.partition("=")
    if name not in space.genes:
        raise InputError("--genes", spec, f"GENE or GENE=VALUE with a gene of the search space "
                                          f"({', '.join(space.genes)})")
    if not equals:
        return name, None
    gene = space.genes[name]
    try:
        value = text if isinstance(gene, Categorical) else yaml.safe_load(text)
        return name, gene.validate(value)
    except (ValueError, yaml.YAMLError) as error:
        raise InputError("--genes", spec, f"{name}: {error}") from None


def ablate(source: Source, candidate: Candidate, seeds: int, genes: list[str] | None,
           console: Console) -> dict[str, Any]:
    tried = changes(candidate.genes, source.space, genes or source.searched)
    variants = [source.space.complete({**candidate.genes, name: value}).genes for name, value in tried]
    # a genome with inherited or evolved initial weights keeps them in each variant they still fit
    fits = [bool(candidate.weights) and architecture(v, source.study.suites) == architecture(candidate.genes,
                                                                                             source.study.suites)
            for v in variants]
    weights = [candidate.weights] + [candidate.weights if f else "" for f in fits]
    outcomes = run_replicates(source.study, [candidate.genes, *variants], seeds, source.archive, console,
                              weights, source.store)
    base = outcomes[0]
    effects = []
    for (name, value), replicates, fit in zip(tried, outcomes[1:], fits):
        effect = {"gene": name, "from": candidate.genes[name], "to": value,
                  "fitness": paired_interval([o["fitness"] for o in base], [o["fitness"] for o in replicates]).to_dict(),
                  "differences": [o["fitness"] - b["fitness"] for b, o in zip(base, replicates)],  # the selection map pools them
                  "failures": sum(o["status"] != "ok" for o in replicates),
                  "fresh_weights": bool(candidate.weights) and not fit}
        for suite in source.study.suites:
            pairs = [(b, o) for b, o in zip(base, replicates) if b["status"] == o["status"] == "ok"]
            for measure in RAW_MEASURES:
                effect[f"{suite.name}.{measure}"] = paired_interval(
                    [b["metrics"][suite.name][measure] for b, _ in pairs],
                    [o["metrics"][suite.name][measure] for _, o in pairs]).to_dict()
        effects.append(effect)
    report = {"genome": candidate.label, "genome_id": candidate.genome_id, "genes": candidate.genes,
              "seeds": seeds, "base_fitness": float(np.mean([o["fitness"] for o in base])), "effects": effects,
              "importance": gene_importance(source.archive, source.space, source.searched)}
    if source.run_dir is not None:
        source.archive.set_meta("ablation", report)
    return report


def gene_importance(archive: Archive, space: SearchSpace, names: list[str]) -> list[dict[str, Any]]:
    """Permutation importance of each gene that varied in the archive, for a random forest predicting
    fitness from the genes (categorical genes as codes: trees split on them). Empty with fewer than
    ten successful evaluations."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    rows = [(r.genes, e.fitness) for r, e in archive.ranked() if e.status == "ok"]
    varied = [n for n in names if len({str(g[n]) for g, _ in rows}) > 1]
    if len(rows) < 10 or not varied:
        return []
    X = np.array([[space.genes[n].encode(g[n]) for n in varied] for g, _ in rows])
    y = np.array([f for _, f in rows])
    forest = RandomForestRegressor(n_estimators=200, random_state=0).fit(X, y)
    result = permutation_importance(forest, X, y, n_repeats=20, random_state=0)
    order = np.argsort(-result.importances_mean)
    return [{"gene": varied[i], "importance": float(result.importances_mean[i]),
             "std": float(result.importances_std[i])} for i in order]


def verdict(effect: dict[str, Any]) -> str:
    """"hurts" or "helps" when the effect's 95% interval excludes 0, else nothing."""
    if effect.get("low") is None:
        return ""
    return "hurts" if effect["high"] < 0 else "helps" if effect["low"] > 0 else ""


def ablation_tables(report: dict[str, Any]) -> list[Table]:
    table = Table(title=f"ablation of {report['genome']} (fitness {report['base_fitness']:.3f} over "
                        f"{report['seeds']} seeds): effect of one change, paired, mean [95% CI]")
    for column in ("gene", "change", "fitness effect", "matters"):
        table.add_column(column, justify="left" if column in ("gene", "change") else "right")
    for e in sorted(report["effects"], key=lambda e: e["fitness"]["mean"]):
        interval, matters = format_interval(e["fitness"], sign="+"), verdict(e["fitness"])
        failed = f" ({e['failures']} of {report['seeds']} failed)" if e["failures"] else ""
        failed += " (fresh weights: the evolved ones do not fit)" if e.get("fresh_weights") else ""
        table.add_row(e["gene"], f"{e['from']} -> {e['to']}{failed}", interval, matters)
    tables = [table]
    if report["importance"]:
        importance = Table(title="gene importance over the whole archive (permutation importance, random forest)")
        importance.add_column("gene")
        importance.add_column("importance (R² drop)", justify="right")
        for row in report["importance"]:
            importance.add_row(row["gene"], f"{row['importance']:.3f} ± {row['std']:.3f}")
        tables.append(importance)
    return tables
