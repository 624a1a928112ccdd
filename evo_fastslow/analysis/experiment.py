"""`evo-fastslow experiment FILE`: arms (run configs with overrides) x run seeds, one command.

Each (arm, seed) is a full evolution in `OUT/<arm>/seed-<s>` (resumed if it is there already), then its
best genome is validated on fresh lifetime seeds and fresh held-out tasks (`validate`). Arms are compared
at equal total env-steps (every arm's runs spend population x generations x budget) with 95% t
intervals over the run seeds: the run seed is the experimental unit, not the lifetime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.table import Table

from evo_fastslow.statistics import format_interval, mean_interval
from evo_fastslow.errors import InputError, read_yaml

EXPERIMENT_SCHEMA = "evo_fastslow.experiment/1"


class Arm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the arm's folder name")
    config: str = Field(description="run config file")
    set: list[str] = Field(default_factory=list, description="overrides, as evolve --set takes them")


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_: Literal["evo_fastslow.experiment/1"] = Field(alias="schema")
    name: str
    description: str = ""
    run_seeds: list[int] = Field(min_length=2, description="run seeds per arm (an interval needs two)")
    validate_seeds: int = Field(5, ge=2, description="fresh lifetimes per best genome")
    show_genes: list[str] = Field(default_factory=list, description="genes of each best genome to print")
    arms: list[Arm] = Field(min_length=1)


def load_experiment(path: str | Path) -> Experiment:
    source = str(path)
    data = read_yaml(path, "experiment file")
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(source, where, first["msg"]) from None
    names = [a.name for a in experiment.arms]
    if len(set(names)) != len(names):
        raise InputError(source, "arms", "arms with distinct names")
    return experiment


def run_experiment(experiment: Experiment, source: str, out: Path, workers: int | None,
                   console: Console) -> dict[str, Any]:
    """Run (or resume) every arm and seed, validate each run's best genome; the summary as plain data."""
    from evo_fastslow.evolution.config import load_config, named_file

    configs = {arm.name: [load_config(named_file(arm.config, source, f"arms[{i}].config", "a run config (YAML)"),
                                      [*arm.set, f"seed={s}"])
                          for s in experiment.run_seeds] for i, arm in enumerate(experiment.arms)}  # all checked first
    runs: dict[str, list[dict[str, Any]]] = {}
    for arm in experiment.arms:
        for config in configs[arm.name]:
            run_dir = out / arm.name / f"seed-{config.seed}"
            console.print(f"[bold]{experiment.name}[/]: arm {arm.name}, run seed {config.seed} -> {run_dir}")
            runs.setdefault(arm.name, []).append(_one_run(config, run_dir, experiment, workers, console))
    summary = {"experiment": experiment.name, "run_seeds": experiment.run_seeds,
               "validate_seeds": experiment.validate_seeds, "runs": runs,
               "arms": {name: _arm_summary(results) for name, results in runs.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _plot(summary, out / "experiment.svg")
    return summary


def _one_run(config: Any, run_dir: Path, experiment: Experiment, workers: int | None,
             console: Console) -> dict[str, Any]:
    from evo_fastslow.analysis.sources import open_source
    from evo_fastslow.analysis.validate import validate
    from evo_fastslow.evolution.loop import Run
    from evo_fastslow.evolution.rundir import ARCHIVE_FILE

    run = Run(config, run_dir, console=console)
    if (run_dir / ARCHIVE_FILE).is_file():
        run.resume()  # an interrupted experiment goes on where it stopped; a finished run only replays
    else:
        run.start()
    source = open_source(str(run_dir), None, None, workers)
    with source.archive:
        budget = sum(s.lifetime.train_env_steps for s in config.fitness_suites())
        by_generation = source.archive.spending_by_generation(config.population)  # trials: what each cost
        curve, best_so_far, spent = [], float("-inf"), 0
        for row in source.archive.generation_summaries():
            best_fitness, evaluations = row[1], row[4]  # (generation, best, mean, best id, evaluations, ...)
            spent += by_generation.get(row[0], 0) if by_generation else evaluations * budget
            best_so_far = max(best_so_far, best_fitness)
            curve.append((spent, best_so_far))
        found = source.top(1)
        if not found:  # failure is data: the run is reported, and left out of the arm's intervals
            reasons = sorted({e.reason for e in source.archive.evaluations().values()})
            console.print(f"[red]{run_dir}: no evaluation succeeded[/] ({'; '.join(reasons)[:200]})")
            return {"run_dir": str(run_dir), "seed": config.seed, "failed": "; ".join(reasons), "env_steps": spent,
                    "curve": curve}
        best = found[0]
        report = validate(source, [best], experiment.validate_seeds, console)["genomes"][0]
        weights = source.archive.weights(best.genome_id)
    return {"run_dir": str(run_dir), "seed": config.seed, "best_genome": best.genome_id,
            "genes": {g: best.genes[g] for g in experiment.show_genes},
            "selection_fitness": best.selection, "validated_fitness": report["validated_fitness"]["mean"],
            "measures": {k: v["mean"] for k, v in report["measures"].items()},
            "weights_note": weights[1] if weights else "", "env_steps": spent, "curve": curve}


def _arm_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    results = [r for r in runs if "failed" not in r]
    measures = sorted(results[0]["measures"]) if results else []
    return {"failed_runs": len(runs) - len(results),
            "validated_fitness": mean_interval([r["validated_fitness"] for r in results]).to_dict(),
            "selection_fitness": mean_interval([r["selection_fitness"] for r in results]).to_dict(),
            "optimism": mean_interval([r["selection_fitness"] - r["validated_fitness"] for r in results]).to_dict(),
            "env_steps": mean_interval([r["env_steps"] for r in runs]).to_dict(),
            **{m: mean_interval([r["measures"][m] for r in results]).to_dict() for m in measures}}


def summary_tables(summary: dict[str, Any]) -> list[Table]:
    """Fitness per arm; the suites' raw measures per arm; what each run's best genome is."""
    from evo_fastslow.analysis.validate import MEASURE_NAMES

    arms = summary["arms"]
    fitness = Table(title=f"{summary['experiment']}: best genome of each run, validated on {summary['validate_seeds']} "
                          f"fresh seeds; mean [95% CI] over {len(summary['run_seeds'])} run seeds")
    for column in ("arm", "validated fitness", "selection fitness", "optimism", "env-steps / run"):
        fitness.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in arms.items():
        failed = f" ({arm['failed_runs']} runs failed)" if arm["failed_runs"] else ""
        fitness.add_row(name + failed, format_interval(arm["validated_fitness"]),
                        format_interval(arm["selection_fitness"]),
                        format_interval(arm["optimism"], sign="+"), f"{arm['env_steps']['mean']:.3g}")
    measures = sorted({m for arm in arms.values() for m in arm if "." in m})
    raw = Table(title="the suites' own measures of those genomes")
    raw.add_column("arm")
    for measure in measures:
        suite, name = measure.split(".")
        raw.add_column(f"{suite}: {MEASURE_NAMES.get(name, name)}", justify="right")
    for name, arm in arms.items():
        raw.add_row(name, *(format_interval(arm.get(m)) for m in measures))
    best = Table(title="each run's best genome")
    for column in ("arm", "run seed", "genome", "validated", "genes", "started from"):
        best.add_column(column, justify="right" if column in ("run seed", "validated") else "left")
    for name, results in summary["runs"].items():
        for r in results:
            if "failed" in r:
                best.add_row(name, str(r["seed"]), "-", "-", f"no evaluation succeeded: {r['failed'][:60]}", "-")
                continue
            genes = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["genes"].items())
            best.add_row(name, str(r["seed"]), str(r["best_genome"]), f"{r['validated_fitness']:.3f}", genes or "-",
                         r["weights_note"] or "fresh weights")
    return [fitness, raw, best]


def _plot(summary: dict[str, Any], path: Path) -> None:
    """Best-so-far selection fitness against env-steps spent (mean and range over run seeds), and each
    arm's validated fitness with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    for i, (name, results) in enumerate(summary["runs"].items()):
        results = [r for r in results if "failed" not in r]
        if not results:
            continue
        steps = np.array([s for s, _ in results[0]["curve"]], dtype=float)
        values = np.array([[v for _, v in r["curve"]] for r in results], dtype=float)
        left.plot(steps, values.mean(0), label=name, color=f"C{i}")
        left.fill_between(steps, values.min(0), values.max(0), color=f"C{i}", alpha=0.2)
        interval = summary["arms"][name]["validated_fitness"]
        low, high = interval["low"], interval["high"]
        right.errorbar([i], [interval["mean"]], yerr=[[interval["mean"] - low], [high - interval["mean"]]]
                       if low is not None else None, fmt="o", color=f"C{i}", capsize=4)
    left.set(xlabel="env-steps spent", ylabel="best selection fitness so far", title="search")
    left.legend(fontsize=8)
    right.set_xticks(range(len(summary["runs"])), list(summary["runs"]), rotation=20)
    right.set(ylabel="validated fitness (95% CI)", title="best genome, fresh seeds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
