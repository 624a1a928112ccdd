"""`report`: one self-contained HTML file a user can send. No scripts, no external links: plots are
inline SVG (matplotlib), tables are HTML; it opens offline in any browser."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

import yaml

from evo_fastslow.analysis import plots
from evo_fastslow.analysis.ablate import verdict
from evo_fastslow.analysis.evidence import evidence_report
from evo_fastslow.analysis.lineage import lineage
from evo_fastslow.analysis.maps import front, map_history
from evo_fastslow.statistics import format_interval
from evo_fastslow.analysis.report import _searched_genes, failures_by_reason, reproducibility_notes
from evo_fastslow.archive import Archive
from evo_fastslow.evolution.rundir import recorded_config

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.table { max-width: 100%; overflow-x: auto; }  /* a wide table scrolls inside its box, never off the page */
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; overflow-wrap: anywhere; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
svg { max-width: 100%; height: auto; } .note { color: #555; }
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class=table><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _genome_table(columns: Sequence[tuple[str, Sequence[Any]]], genes: Sequence[str], records: Sequence[Any]) -> str:
    """Genomes as columns, figures and genes as rows (as `inspect` prints them): ten genomes fit the page
    however many genes were searched."""
    rows = [[name, *values] for name, values in columns]
    rows += [[gene, *(r.genes.get(gene) for r in records)] for gene in genes]
    return _table(["genome", *(str(r.id) for r in records)], rows)


def _counts(counts: dict[Any, int], name: Any = str) -> str:
    """{"a": 3, "b": 1} as "a: 3, b: 1" (a table cell reads as words, not JSON)."""
    return ", ".join(f"{name(key)}: {n}" for key, n in counts.items()) or "-"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def _validation(report: dict[str, Any]) -> str:
    rows = [[g["label"], g["selection_fitness"], format_interval(g["validated_fitness"]), g["optimism"],
             *(format_interval(g["measures"].get(f"{s}.test_regret")) for s in report["suites"])] for g in report["genomes"]]
    body = _table(["genome", "selection fitness", "validated fitness [95% CI]", "optimism",
                   *(f"{s}: regret [95% CI]" for s in report["suites"])], rows)
    for suite in report["suites"]:
        by_policy = report["baselines"].get(f"{suite}.test_regret", {})
        body += f"<p>{html.escape(suite)}: baselines on the same held-out tasks</p>" + _table(
            ["policy", "regret [95% CI]"], [[p, format_interval(i)] for p, i in sorted(by_policy.items(), key=lambda kv: kv[1]["mean"])])
    return f"<p class=note>{report['seeds']} fresh lifetime seeds per genome.</p>" + body


def _ablation(report: dict[str, Any]) -> str:
    rows = [[e["gene"], f"{e['from']} -> {e['to']}", format_interval(e["fitness"], sign="+"), verdict(e["fitness"])]
            for e in sorted(report["effects"], key=lambda e: e["fitness"]["mean"])]
    body = (f"<p class=note>{html.escape(report['genome'])}, fitness {report['base_fitness']:.3f} over "
            f"{report['seeds']} seeds; each change's paired effect on fitness.</p>"
            + _table(["gene", "change", "fitness effect [95% CI]", "matters"], rows))
    if report.get("importance"):
        body += "<p>gene importance over the whole archive (permutation importance of a random forest)</p>" + _table(
            ["gene", "importance (R² drop)", "std"], [[r["gene"], r["importance"], r["std"]] for r in report["importance"]])
    return body


def _mechanisms(run_dir: Path) -> str:
    """This run's cells of the selection map (analysis/selection_map.py)."""
    from evo_fastslow.analysis.selection_map import selection_map
    from evo_fastslow.errors import InputError

    try:
        frame = selection_map({"this run": [run_dir]})
    except InputError as err:  # a run with no generation yet
        return f"<p>none yet ({html.escape(err.expected)})</p>"
    rows = [[r["mechanism"], r["gene"], f"{r['share_first']:.0%}", f"{r['share_last']:.0%}",
             "yes" if r["winners_carrying"] else "no",
             "-" if r["cost_n"] < 2 else f"{r['cost']:+.3f} [{r['cost_low']:+.3f}, {r['cost_high']:+.3f}]", r["verdict"]]
            for _, r in frame.iterrows()]
    return ("<p class=note>Cost: the winner's fitness minus the fitness with the mechanism removed, paired on fresh "
            "seeds (run `evo-fastslow ablate` for it); `evo-fastslow map` draws this for runs across worlds.</p>"
            + _table(["mechanism", "gene", "share, first generation", "share, last generation", "winner carries it",
                      "cost [95% CI]", "verdict"], rows))


def write_report(run_dir: Path, path: Path, top: int = 10) -> None:
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        config = recorded_config(archive)
        ranked = archive.ranked(top)
        genes = _searched_genes(archive)
        parts = [f"<h1>evo-fastslow run: {html.escape(run_dir.name)}</h1>",
                 f"<p class=note>{len(archive.genomes())} genomes, {len(archive.evaluations())} evaluations; "
                 f"suites: {html.escape(', '.join(s.get('name', '?') for s in config.get('embedded_suites', [])) or '?')}</p>",
                 _section("Fitness and searched genes over generations",
                          plots.svg(plots.progress_figure(archive, run_dir.name))),
                 _section(f"Top {len(ranked)} genomes", _genome_table([
                     ("fitness", [e.fitness for _, e in ranked]),
                     ("95% CI", [f"[{e.ci_low:.3f}, {e.ci_high:.3f}]" if e.replicates > 1 else "-" for _, e in ranked]),
                     ("replicates", [e.replicates for _, e in ranked]), ("rung", [e.rung for _, e in ranked]),
                     ("generation", [r.generation + 1 for r, _ in ranked]), ("origin", [r.origin for r, _ in ranked])],
                     genes, [r for r, _ in ranked]))]
        evidence = evidence_report(archive)
        if evidence is not None:
            parts.append(_section("Selection's evidence", _table(["measure", "value"], [
                ["genomes per rung reached", _counts(evidence["genomes_per_rung"], lambda rung: _rung(rung, config))],
                ["decisions", _counts(evidence["decisions"])],
                ["trials per rung", " + ".join(map(str, evidence["trials_per_rung"]))],
                ["env-steps spent", f"{evidence['env_steps'] / 1e6:.3g}M (one full lifetime per genome: "
                                    f"{evidence['one_full_lifetime_each'] / 1e6:.3g}M)"],
                ["P(incumbent is the best of the top 3), bootstrap", f"{evidence['probability_incumbent_best']:.2f}"]])))
        qd = plots.map_figure(archive)
        if qd is not None:
            history = map_history(archive)
            parts.append(_section("MAP-Elites map", plots.svg(qd) + _table(
                ["epoch", "coverage", "QD-score"], [[e + 1, f"{c:.0%}", q] for e, c, q in history])))
        points = front(archive)
        pareto = plots.front_figure(archive)
        if pareto is not None:
            parts.append(_section("Pareto front: fitness against parameters", plots.svg(pareto) + _genome_table(
                [("parameters", [int(c) for _, _, c in points]), ("fitness", [e.fitness for _, e, _ in points])],
                genes, [r for r, _, _ in points])))
        if archive.meta("validation"):
            parts.append(_section("Validation on fresh seeds", _validation(archive.meta("validation"))))
        if archive.meta("ablation"):
            parts.append(_section("Ablation: which evolved biases matter", _ablation(archive.meta("ablation"))))
        parts.append(_section("Fast-learning mechanisms: share and what removing them costs", _mechanisms(run_dir)))
        if ranked:
            steps = lineage(archive, ranked[0][0].id)
            inherits = any(s["weights"] for s in steps)  # baldwinian, lamarckian: where the weights came from
            parts.append(_section(f"Lineage of the best genome ({ranked[0][0].id})", _table(
                ["genome", "generation", "operator", "parents", "changed genes", "fitness"]
                + (["weights from"] if inherits else []),
                [[s["genome_id"], s["generation"] + 1, s["operator"], ", ".join(map(str, s["parents"])) or "-",
                  ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in s["changed"].items()) or "-", s["fitness"]]
                 + ([s["weights"] or "-"] if inherits else []) for s in steps])))
        curves = plots.curves_figure(archive, min(top, 5))
        if curves is not None:
            parts.append(_section("Learning curves of the top genomes", plots.svg(curves)))
        failures = failures_by_reason(archive)
        parts.append(_section("Failures", _table(["evaluations", "status", "reason"],
                                                 [[n, s, r] for (s, r), n in failures.most_common()])
                              if failures else "<p>none</p>"))
        use = plots.utilisation_figure(archive)
        notes = "".join(f"<li>{html.escape(_plain(n))}</li>" for n in reproducibility_notes(archive))
        parts.append(_section("Workers and reproducibility", (plots.svg(use) if use else "") + f"<ul>{notes}</ul>"))
        parts.append(_section("Configuration", "<pre>" + html.escape(yaml.safe_dump(
            {k: v for k, v in config.items() if k != "embedded_suites"}, sort_keys=False)) + "</pre>"))
    page = ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>evo-fastslow: {html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    path.write_text(page, encoding="utf-8")


def _rung(rung: Any, config: dict[str, Any]) -> str:
    """Rung 0 as "rung 0 (0.25 of a lifetime)", the top rung as "rung 1 (a full lifetime)"."""
    fractions = (config.get("evaluation") or {}).get("rungs") or [1.0]
    index = int(rung)
    if index >= len(fractions):
        return f"rung {index}"
    return f"rung {index} ({'a full lifetime' if fractions[index] >= 1 else f'{fractions[index]:g} of a lifetime'})"


def _plain(note: str) -> str:
    """A console note without rich's markup."""
    return note.replace("[yellow]", "").replace("[/]", "")



