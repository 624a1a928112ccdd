"""`evo-fastslow` commands: thin wrappers that parse, call the library and print.

Bad input (an InputError) prints one paragraph naming the file, the field and what was expected,
and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from rich.table import Table

from evo_fastslow import api
from evo_fastslow.analysis.lifetime_report import analysis_tables
from evo_fastslow.console import make_console
from evo_fastslow.errors import ConfigWarning, InputError, output_dir, output_file, run_directory
from evo_fastslow.lifetime import fused
from evo_fastslow.numerics.build import BuildWaitError

EXIT_BAD_INPUT = 2


def _lifetime(args: argparse.Namespace) -> int:
    genome, suite, result, baselines = api.run_lifetime_with_baselines(args.genome, args.suite, args.seed,
                                                                       args.save_weights, None)
    if args.json:
        print(json.dumps(_finite(api.lifetime_report(args.seed, genome, suite, result, baselines))))
    else:
        _print_lifetime(genome.name or "genome", suite.name, result, baselines)
    return 0


def _finite(value: Any) -> Any:
    """JSON has no NaN: not-a-number metrics (a diverged lifetime) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_lifetime(name: str, suite: str, result: Any, baselines: dict[str, dict[str, float]]) -> None:
    console = make_console()
    table = Table(title=f"{name} on {suite}: held-out tasks, weights frozen")
    for column in ("policy", "test regret", "reward / step"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    table.add_row(f"[bold]{name}[/] (agent)", f"{result.test_regret:.3f}", f"{result.test_mean_reward:.3f}")
    for baseline, figures in sorted(baselines.items(), key=lambda kv: kv[1]["test_regret"]):
        table.add_row(baseline, f"{figures['test_regret']:.3f}", f"{figures['test_mean_reward']:.3f}")
    console.print(table)
    analyses = {f"{name} (agent)": result.analysis, **{n: b["analysis"] for n, b in baselines.items()}}
    if result.analysis:
        for analysis_table in analysis_tables(analyses):
            console.print(analysis_table)
    if result.diagnostics:
        console.print(_training_table(result))
    status = result.status if result.status == "ok" else f"{result.status} ({result.reason})"
    console.print(f"status {status}; normalised score {result.normalized_score:.3f}; "
                  f"{result.env_steps:,} env steps, {result.updates:,} updates in {result.wall_seconds:.1f} s "
                  f"({result.env_steps / max(result.wall_seconds, 1e-9):,.0f} steps/s); "
                  f"{result.parameter_count:,} parameters")


def _training_table(result: Any) -> Table:
    """How training went, at a tenth, half and the end of the lifetime: a lifetime that stays at chance
    shows it here (entropy collapsed, every pull to one action, a value loss that never falls)."""
    table = Table(title="training (means since the previous curve point)")
    columns = ("env steps", "reward / step", "entropy", "top action share", "value loss", "grad norm")
    for column in columns:
        table.add_column(column, justify="right")
    points = result.diagnostics
    for index in sorted({min(len(points) - 1, int(share * len(points))) for share in (0.1, 0.5, 1.0)}):
        point, (_, reward) = points[index], result.learning_curve[index]
        table.add_row(f"{point['env_steps']:,}", f"{reward:.3f}", f"{point['entropy']:.3f}",
                      f"{point['top_action_share']:.2f}", f"{point['value_loss']:.3f}", f"{point['grad_norm']:.2f}")
    return table


def _evolve(args: argparse.Namespace) -> int:
    if args.out is not None:
        output_dir(args.out, "a directory for the run", (args.out or '""', "--out"))
    _found(api.evolve(args.config, args.set or [], args.out, yes=args.yes).dir)
    return 0


def _resume(args: argparse.Namespace) -> int:
    run_directory(args.run_dir, "RUN_DIR")
    _found(api.resume(args.run_dir, yes=args.yes).dir)
    return 0


def _found(run_dir: Path) -> None:
    """What the run found: the best genome and its fitness, and the inductive biases selected."""
    from evo_fastslow.analysis.report import biases_table, top_table
    from evo_fastslow.archive import Archive

    console = make_console()
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        best = archive.ranked(1)
        console.print(top_table(archive, 3))
        console.print(biases_table(archive))
    if best:
        record, evaluation = best[0]
        evidence = (f" [95% CI {evaluation.ci_low:.4f}, {evaluation.ci_high:.4f}] over {evaluation.replicates} "
                    "replicates" if evaluation.replicates > 1 else "")
        console.print(f"best genome: id {record.id} (generation {record.generation + 1}), "
                      f"fitness {evaluation.fitness:.4f}{evidence}: {json.dumps(record.genes)}")
    console.print(f"run directory: {run_dir} (evo-fastslow inspect {run_dir})")


def _run_dir(path: str) -> Path:
    return run_directory(path, "RUN_DIR")


def _inspect(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.plots import plot_progress
    from evo_fastslow.analysis.report import export_top, print_report

    run_dir = _run_dir(args.run_dir)
    if args.lineage is not None:
        from evo_fastslow.analysis.lineage import lineage, lineage_table
        from evo_fastslow.archive import Archive

        with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
            best = archive.ranked(1)
            genome_id = args.lineage if args.lineage >= 0 else (best[0][0].id if best else 0)
            make_console().print(lineage_table(lineage(archive, genome_id), genome_id))
        return 0
    print_report(run_dir, args.top, make_console())
    export_to = None if args.export is None else output_file(args.export, "a genome file (JSON)",
                                                             (args.export or '""', "--export"))
    plot_to = None if args.plot is None else output_file(args.plot, "a PNG image", (args.plot or '""', "--plot"))
    if export_to:
        count = export_top(run_dir, args.top, export_to)
        make_console().print(f"wrote {count} genomes to {args.export}")
    if plot_to:
        plot_progress(run_dir, plot_to)
        make_console().print(f"wrote the fitness and selected-biases plot to {args.plot}")
    return 0


def _print_or_json(args: argparse.Namespace, report: dict[str, Any], tables: list[Table]) -> None:
    if args.json:
        print(json.dumps(_finite(report)))
        return
    console = make_console()
    for table in tables:
        console.print(table)


def _validate(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.validate import validation_tables

    report = api.validate(args.source, top=args.top, seeds=args.seeds, front=args.front, suites=args.suite,
                          seed=args.seed, workers=args.workers, archive=args.archive)
    _print_or_json(args, report, validation_tables(report))
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.ablate import ablation_tables

    report = api.ablate(args.source, genes=args.genes, seeds=args.seeds, suites=args.suite, seed=args.seed,
                        workers=args.workers, archive=args.archive)
    _print_or_json(args, report, ablation_tables(report))
    return 0


def _map(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.plots import svg
    from evo_fastslow.analysis.selection_map import map_figure, map_table

    runs = []
    for given in args.runs:  # a run directory, or a folder of them (an experiment's output)
        folder = Path(given)
        found = sorted(p.parent for p in folder.rglob("archive.sqlite")) if folder.is_dir() else []
        runs += found if found and not (folder / "archive.sqlite").is_file() else [run_directory(given)]
    frame = api.selection_map(runs)
    if args.json:
        print(frame.to_json(orient="records"))
    else:
        make_console().print(map_table(frame))
    if args.output:
        path = output_file(args.output, "-o")
        path.write_text(svg(map_figure(frame)), encoding="utf-8")
        print(f"figure: {path}")
    return 0


def _study_arguments(parser: argparse.ArgumentParser, seeds: int) -> None:
    parser.add_argument("--seeds", type=int, default=seeds, help="replicate lifetimes per genome")
    parser.add_argument("--suite", action="append", metavar="FILE", help="fitness suite (required for a genome file; "
                        "replaces a run's suites)")
    parser.add_argument("--seed", type=int, help="root of the replicate seeds (default: the run's seed, or 0)")
    parser.add_argument("--workers", type=int, help="a LocalCluster of N workers instead of the run's cluster "
                        "(0: in-process)")
    parser.add_argument("--archive", metavar="FILE", help="for a genome file: keep its replicates in this archive "
                        "(a rerun reuses them); a run keeps them in its own")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def _report(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.html_report import write_report

    run_dir = _run_dir(args.run_dir)
    try:
        write_report(run_dir, output_file(args.output, "an HTML file", (args.output or '""', "-o")), args.top)
    except OSError as err:
        raise InputError(args.output, "-o", f"a file that can be written ({err.strerror})") from None
    make_console().print(f"wrote {args.output}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.export import export

    run_dir = _run_dir(args.run_dir)
    out = (output_dir(args.output, "a directory for the exported tables", (args.output or '""', "-o"))
           if args.output is not None else run_dir / "export")
    try:
        written = export(run_dir, args.format, out, args.front)
    except OSError as err:
        raise InputError(str(out), "-o", f"a directory that can be written ({err.strerror})") from None
    for path in written:
        make_console().print(f"wrote {path}")
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from evo_fastslow.analysis.experiment import load_experiment, run_experiment, summary_tables

    experiment = load_experiment(args.file)
    out = (output_dir(args.out, "a directory for the experiment", (args.out or '""', "--out")) if args.out is not None
           else Path("runs") / experiment.name)
    summary = run_experiment(experiment, args.file, out, args.workers, make_console(stderr=True))
    console = make_console()
    for table in summary_tables(summary):
        console.print(table)
    print(f"summary: {out / 'summary.json'}, figure: {out / 'experiment.svg'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evo-fastslow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lifetime = commands.add_parser("lifetime", help="train one genome on a suite, test it beside the baselines")
    lifetime.add_argument("--genome", required=True, help="genome file, FILE:NAME to pick one")
    lifetime.add_argument("--suite", required=True, help="fitness suite file (fitness/*.yaml)")
    lifetime.add_argument("--seed", type=int, default=0)
    lifetime.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    lifetime.add_argument("--save-weights", metavar="PATH", help="save the trained weights (state dict)")
    lifetime.set_defaults(run=_lifetime)
    evolve = commands.add_parser("evolve", help="evolve genomes as a config says")
    evolve.add_argument("config", help="run config (configs/*.yaml)")
    evolve.add_argument("--out", metavar="RUN_DIR", help="run directory (default runs/NAME-seedN)")
    evolve.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override a config field")
    evolve.add_argument("--yes", action="store_true", help="start even if the plan exceeds "
                        "budget.ceiling_core_hours")
    evolve.set_defaults(run=_evolve)
    resume = commands.add_parser("resume", help="continue a run from its last checkpoint")
    resume.add_argument("run_dir")
    resume.add_argument("--yes", action="store_true", help="go on even if the plan exceeds "
                        "budget.ceiling_core_hours")
    resume.set_defaults(run=_resume)
    inspect_ = commands.add_parser("inspect", help="top genomes, best-so-far, selected inductive biases")
    inspect_.add_argument("run_dir")
    inspect_.add_argument("--top", type=int, default=10)
    inspect_.add_argument("--export", metavar="FILE", help="write the top genomes as a genome file")
    inspect_.add_argument("--plot", metavar="PNG", help="plot fitness and the selected biases per generation")
    inspect_.add_argument("--lineage", nargs="?", type=int, const=-1, metavar="ID",
                          help="the ancestry of a genome (default: the best)")
    inspect_.set_defaults(run=_inspect)
    report = commands.add_parser("report", help="one self-contained HTML file of a run (opens offline)")
    report.add_argument("run_dir")
    report.add_argument("-o", "--output", default="report.html", metavar="HTML")
    report.add_argument("--top", type=int, default=10)
    report.set_defaults(run=_report)
    export = commands.add_parser("export", help="genomes, evaluations and replicates as tables (pandas, R, ...)")
    export.add_argument("run_dir")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument("-o", "--output", metavar="DIR", help="default RUN_DIR/export")
    export.add_argument("--front", action="store_true", help="only the Pareto front's genomes (fitness against "
                        "parameters); every export marks them in the column on_front")
    export.set_defaults(run=_export)
    validate = commands.add_parser("validate", help="re-run the top genomes on fresh seeds: fitness with 95%% "
                                   "intervals, beside the baselines, against the selection fitness")
    validate.add_argument("source", metavar="RUN_DIR|GENOME_FILE")
    validate.add_argument("--top", type=int, default=3, help="how many of the run's best genomes")
    validate.add_argument("--front", action="store_true", help="the run's Pareto front (fitness against "
                          "parameters) instead of the top K")
    _study_arguments(validate, seeds=5)
    validate.set_defaults(run=_validate)
    ablate = commands.add_parser("ablate", help="change one gene at a time: which evolved biases matter (paired "
                                 "95%% intervals), and gene importance over the archive")
    ablate.add_argument("source", metavar="RUN_DIR|GENOME_FILE[:NAME]", help="a run (its best genome) or one genome")
    ablate.add_argument("--genes", nargs="+", metavar="GENE[=VALUE]",
                        help="only these genes (default: every searched gene); GENE=VALUE tries that value alone")
    _study_arguments(ablate, seeds=5)
    ablate.set_defaults(run=_ablate)
    experiment = commands.add_parser("experiment", help="arms x run seeds: evolve, validate each best genome, "
                                     "compare the arms with 95%% intervals over run seeds")
    experiment.add_argument("file", help="experiment file (e.g. studies/inheritance/inheritance.yaml)")
    experiment.add_argument("--out", metavar="DIR", help="default runs/NAME")
    experiment.add_argument("--workers", type=int, help="validate on a LocalCluster of this many workers (0: "
                            "in-process) instead of each run's cluster")
    experiment.set_defaults(run=_experiment)
    check = commands.add_parser("check", help="the state of a run directory (config, archive, checkpoint, "
                                "weights), changing nothing")
    check.add_argument("run_dir")
    check.set_defaults(run=_check)
    selection = commands.add_parser("map", help="the selection map: each mechanism's share beside what removing "
                                    "it costs the winner, per world (after `ablate`)")
    selection.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, or folders holding them "
                           "(grouped into worlds by their suites)")
    selection.add_argument("-o", "--output", metavar="SVG", help="also draw the map")
    selection.add_argument("--json", action="store_true", help="print the rows as JSON")
    selection.set_defaults(run=_map)
    searchers = commands.add_parser("searchers", help="the searchers a run config can name, with their settings")
    searchers.add_argument("names", nargs="*", help="only these (default: shipped and installed)")
    searchers.set_defaults(run=_searchers)
    return parser


def _check(args: argparse.Namespace) -> int:
    from evo_fastslow.evolution.rundir import check_run_dir

    found = check_run_dir(run_directory(args.run_dir, "RUN_DIR"))
    for part, fine, what in found:
        print(f"{part:16s} {'ok' if fine else 'DAMAGED'}  {what}")
    return 0 if all(fine for _, fine, _ in found) else EXIT_BAD_INPUT


def _searchers(args: argparse.Namespace) -> int:
    from evo_fastslow.evolution.searchers.registry import reference

    print(reference(args.names or None))
    return 0


def _show_warning(message: Warning | str, category: type[Warning], *rest: Any, **kwargs: Any) -> None:
    """A config warning as one plain line; any other warning as Python shows it."""
    if issubclass(category, ConfigWarning):
        print(f"evo-fastslow: warning: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, *rest, **kwargs)


_python_show_warning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        fused.kernel_mode()  # a bad EVO_FASTSLOW_KERNEL is bad input, told before any work starts
        return args.run(args)
    except InputError as err:
        print(f"evo-fastslow: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BuildWaitError as err:  # another process's kernel build outlasted the wait
        print(f"evo-fastslow: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
