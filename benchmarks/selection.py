"""Selection that holds up on fresh seeds, at equal env-steps: single-seed GA, racing, multi-fidelity,
rungs with racing (the default before), rungs with replicates on survival (the shipped default), with
the winner's re-test, the best of N random genomes (the whole budget as one generation), the searchers
inside the harness, and Optuna's TPE driving the same `evaluate` outside it.

Per arm and run seed the run is extended generation by generation (`resume` with more generations)
while it stays within the single-seed GA's env-steps (a generation that would overshoot is undone, so no
arm spends more than the GA); its best genome is validated on fresh seeds that no
selection saw (`validate`: replicates under other names than the selection's pool). Printed per arm,
with 95% t intervals over run seeds: the validated fitness, the optimism (selection - validated), the
share of genomes with a recurrent core fed action and reward per generation, and the env-steps at
which its best-so-far selection fitness first reaches the single-seed GA's final validated fitness
(a selection fitness: for the single-seed GA itself, optimistic).

    python benchmarks/selection.py                     # configs/bandits.yaml, 3 run seeds (hours on 2 cores)
    python benchmarks/selection.py --set population=8 --set budget.train_env_steps=200000 --generations 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console

from evo_fastslow.analysis.sources import Candidate, open_source
from evo_fastslow.statistics import mean_interval
from evo_fastslow.analysis.validate import validate
from evo_fastslow.archive import Archive
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.loop import Run
from evo_fastslow.seeds import derive_seed

LEGACY = ["evaluation.seeds=per-generation", "evaluation.max_replicates=1", "evaluation.racing=null",
          "evaluation.rungs=[1.0]"]
RACE = ["evaluation.first_replicates=null", "evaluation.racing={incumbents: 3, test: t, alpha: 0.2}"]
ARMS = {  # name: (directory, overrides of the config's evaluation section: replicates on survival, with rungs)
    "single-seed GA": ("single-seed", LEGACY),
    "racing": ("racing", ["evaluation.rungs=[1.0]", "evaluation.max_replicates=4", *RACE]),
    "multi-fidelity": ("multi-fidelity", ["evaluation.racing=null", "evaluation.max_replicates=1"]),
    "rungs + racing (the default before)": ("combination", ["evaluation.max_replicates=4", *RACE]),
    "rungs, replicates on survival 1 -> 3 (default)": ("survival-3", []),
    "random search (best of N)": ("random", LEGACY),  # one generation of every genome the budget pays for
    # searchers inside the harness (evolution/searchers/): Optuna's TPE with the default evaluation policy and
    # with one lifetime per trial (as outside it), nevergrad's TwoPointsDE and NGOpt; budget: the asks the
    # env-steps pay for at the default policy's rung cost (about 0.6 full lifetimes per genome)
    "tpe in the harness (default evaluation)": ("tpe-harness", ["searcher={name: tpe, categorical: native}"]),
    "tpe in the harness, one lifetime per trial": ("tpe-harness-single", ["searcher={name: tpe, categorical: native}",
                                                                         *LEGACY]),
    "tpe in the harness, genes as cube coordinates": ("tpe-harness-cube", ["searcher={name: tpe, categorical: cube}"]),
    "de (nevergrad TwoPointsDE, default evaluation)": ("de", ["searcher={name: de, budget: 110}"]),
    "ngopt (nevergrad NGOpt, default evaluation)": ("ngopt", ["searcher={name: ngopt, budget: 110}"]),
    "aging (regularised evolution, default evaluation)": ("aging", ["searcher={name: aging}"]),
    "guided (forest, EI; default evaluation)": ("guided", ["searcher={name: guided}"]),  # model-guided evolution
    # the winner's re-test: its worst-case lifetimes are reserved from the budget before the search (evolve_arm)
    "default + re-test of the top 3 on 4 shared replicates": ("survival-3-retest", [
        "evaluation.retest={top: 3, replicates: 4}"]),
    "default, first generation a Latin hypercube": ("survival-3-lhs", ["searcher.initial_design=latin-hypercube"]),
}
CANDIDATES = {  # further combinations, measured to choose the default (--candidates)
    "rungs + racing, 2 replicates": ("combination-2", ["evaluation.max_replicates=2", *RACE]),
    "rungs + racing, 3 replicates": ("combination-3", ["evaluation.max_replicates=3", *RACE]),
    "rungs + mean racing, 3 replicates": ("combination-mean-3", ["evaluation.max_replicates=3", *RACE,
                                                                 "evaluation.racing.test=mean"]),
}


def meta_rl(genes: dict[str, Any]) -> bool:
    return genes["core"] in ("lstm", "gru") and genes["meta_inputs"] == "action_reward"


def evolve_arm(config_path: str, overrides: list[str], run_dir: Path, budget: float, generations: int,
               console: Console) -> dict[str, Any]:
    """Evolve generation by generation within `budget` env-steps; the curve and meta-RL shares.

    With `evaluation.retest` among the overrides, the search runs without it and stops a generation before
    its spending plus the re-test's lifetimes (as the archive then stands) would pass the budget; the
    re-test runs once, at the end."""
    retest = [o for o in overrides if o.startswith("evaluation.retest")]
    overrides = [o for o in overrides if o not in retest]
    with_retest = load_config(config_path, [*overrides, *retest]) if retest else None
    generation, before = 1, run_dir.with_name(run_dir.name + "-before")
    while True:
        config = load_config(config_path, [*overrides, f"generations={generation}"])
        if (run_dir / "archive.sqlite").exists():
            shutil.rmtree(before, ignore_errors=True)
            shutil.copytree(run_dir, before)
            Run(config, run_dir, console=console).resume()
        else:
            Run(config, run_dir, console=console).start()
        spent = spent_by_generation(run_dir, config)
        if with_retest is not None:
            spent[-1] += retest_cost(run_dir, with_retest)
        if spent[-1] > budget and generation > 1:  # overshot: keep the run as it was one generation ago
            shutil.rmtree(run_dir)
            before.rename(run_dir)
            config = load_config(config_path, [*overrides, f"generations={generation - 1}"])
            spent = spent_by_generation(run_dir, config)
            break
        if spent[-1] >= budget or generation >= 10 * generations:
            break
        generation += 1
    shutil.rmtree(before, ignore_errors=True)
    if retest:
        config = load_config(config_path, [*overrides, *retest, f"generations={len(spent)}"])
        Run(config, run_dir, console=console).resume()  # the search is finished: only the re-test runs
        with Archive(run_dir / "archive.sqlite") as archive:
            spent[-1] = archive.spending()["env_steps"]
    with Archive(run_dir / "archive.sqlite") as archive:
        curve, best = [], -np.inf
        for (row, steps) in zip(archive.generation_summaries(), spent):
            best = max(best, row[1])
            curve.append((steps, best))
        shares = [float(np.mean([meta_rl(r.genes) for r in archive.genomes(g)])) for g in range(len(spent))]
    return {"curve": curve, "meta_rl": shares, "env_steps": spent[-1]}


def retest_cost(run_dir: Path, config: Any) -> int:
    """Env-steps the re-test would add to the run as its archive stands: the lifetimes its top genomes lack."""
    settings, top = config.evaluation.retest, config.evaluation.top
    full = sum(s.lifetime.train_env_steps for s in config.fitness_suites())
    with Archive(run_dir / "archive.sqlite") as archive:
        chosen = [e for _, e in archive.ranked(retested=False) if e.status == "ok" and e.rung == top]
    return sum(max(0, settings.replicates - e.replicates) for e in chosen[:settings.top]) * full


def best_within(run_dir: Path, result: dict[str, Any], budget: float) -> Candidate | None:
    """What `inspect` would have named the run's best genome once a third of the budget was spent (None:
    its first generation spent more)."""
    last = max((g for g, (steps, _) in enumerate(result["curve"]) if steps <= budget / 3), default=None)
    if last is None:
        return None
    source = open_source(str(run_dir), None, None, 0)
    with source.archive:
        record, evaluation = next((r, e) for r, e in source.archive.ranked(through_generation=last)
                                  if e.status == "ok")
        return source.candidate(record, evaluation.fitness)


def _winners(run_dir: Path, result: dict[str, Any], budget: float, seeds: int, workers: int | None,
             console: Console) -> dict[str, Any]:
    """The run's best genome (as `inspect` names it) validated on fresh seeds, and the one it named at a
    third of the budget."""
    source = open_source(str(run_dir), None, None, workers)
    with source.archive:
        best = source.top(1)[0]
    third = best_within(run_dir, result, budget)
    return {"selection": best.selection,
            "validated": validated(str(run_dir), best, None, None, seeds, workers, console),
            "third": third and validated(str(run_dir), third, None, None, seeds, workers, console)}


def spent_by_generation(run_dir: Path, config: Any) -> list[int]:
    full = sum(s.lifetime.train_env_steps for s in config.fitness_suites())
    with Archive(run_dir / "archive.sqlite") as archive:
        generations = len(list(archive.generation_summaries()))
        by = archive.spending_by_generation(config.population)
    if not by:  # one lifetime per genome
        return [full * config.population * (g + 1) for g in range(generations)]
    return list(np.cumsum([by.get(g, 0) for g in range(generations)]))


def tpe_arm(config_path: str, overrides: list[str], run_seed: int, budget: float, out: Path, workers: int
            ) -> dict[str, Any]:
    """Optuna's TPE over the same [0,1]^d encoding, one lifetime per trial (as a user would run it)."""
    import optuna

    from evo_fastslow.evolution.evaluate import evaluate

    config = load_config(config_path, overrides)
    space, suites = config.space(), config.fitness_suites()
    full = sum(s.lifetime.train_env_steps for s in suites)
    trials = max(1, int(budget // full))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=run_seed))
    curve, best = [], -np.inf
    with ProcessPoolExecutor(workers) as pool:  # batches of `workers` trials asked at once, as in parallel tuning
        for start in range(0, trials, workers):
            asked = [study.ask() for _ in range(min(workers, trials - start))]
            genomes = [space.decode(np.array([t.suggest_float(f"x{i}", 0.0, 1.0) for i in range(len(space))]))
                       for t in asked]
            futures = [pool.submit(evaluate, dict(g.genes), suites, derive_seed(run_seed, "tpe", t.number, "lifetime"),
                                   derive_seed(run_seed, "tpe", t.number, "tasks")) for t, g in zip(asked, genomes)]
            for trial, future in zip(asked, futures):
                fitness = future.result()["fitness"]
                study.tell(trial, fitness)
                best = max(best, fitness)
                curve.append(((trial.number + 1) * full, best))
    def genes_of(trial: Any) -> dict[str, Any]:
        return dict(space.decode(np.array([trial.params[f"x{i}"] for i in range(len(space))])).genes)

    genes = genes_of(study.best_trial)
    first = [t for t in study.trials[: int(budget / 3 // full)] if t.value is not None]
    best_first = max(first, key=lambda t: t.value, default=None)
    path = out / f"tpe-seed-{run_seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": "evo_fastslow.genomes/1", "genomes": [{"name": "tpe", "genes": genes}]}))
    return {"curve": curve, "meta_rl": [], "env_steps": trials * full, "genes": genes, "selection": study.best_value,
            "third_genes": genes_of(best_first) if best_first else None}


def run_suites(config: Any, folder: Path) -> list[str]:
    """The run's fitness suites as it evaluates them (its budget overrides applied), written as suite files:
    a genome file validated on them meets the lifetime budget and test episodes the in-harness arms'
    winners are validated at (the suite files' own budgets are other, often larger)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suite in config.fitness_suites():
        path = folder / f"{suite.name}.yaml"
        path.write_text(yaml.safe_dump(suite.model_dump(mode="json", exclude_none=True, by_alias=True),
                                       sort_keys=False))
        paths.append(str(path))
    return paths


def validated(source_path: str, candidate: Candidate, suites: list[str] | None, seed: int, seeds: int,
              workers: int, console: Console) -> float:
    source = open_source(source_path, suites, seed, workers)
    with source.archive:
        return validate(source, [candidate], seeds, console)["genomes"][0]["validated_fitness"]["mean"]


def take_summary(path: Path, out: Path, arms: dict[str, tuple[str, list[str]]]) -> None:
    """Per-seed figures of a summary written before (each result's `seed`; in older summaries its list
    position), where none are yet."""
    for name, runs in json.loads(path.read_text()).items():
        for position, result in enumerate(runs):
            seed = result.get("seed", position)
            done = out / arms[name][0] / f"seed-{seed}.json"
            if not done.is_file():
                done.parent.mkdir(parents=True, exist_ok=True)
                done.write_text(json.dumps(result, default=float))


def print_table(results: dict[str, list[dict[str, Any]]], budget: float) -> None:
    """Per arm, over run seeds: validated fitness and optimism (95% t intervals), each seed's validated
    fitness, the meta-RL share of the last generation, the env-steps at which the best-so-far selection
    fitness first reaches the target (Optuna's TPE's validated fitness, outside the harness as a user would
    run it; the single-seed GA's where TPE has not run), and the validated fitness of the genome the arm
    named at a third of the budget, with how many run seeds reach the target there."""
    reference = "Optuna TPE" if results.get("Optuna TPE") else "single-seed GA"
    target = float(np.mean([r["validated"] for r in results.get(reference, [])] or [np.nan]))
    print(f"budget {budget / 1e6:.0f}M env-steps per run; target ({reference}'s validated fitness) {target:.3f}")
    print(f"{'arm':55s} {'n':>2s} {'validated':>22s} {'optimism':>22s} {'meta-RL':>7s} {'reaches target':>16s} "
          f"{'validated at 1/3':>22s} {'≥ target':>8s} {'env-steps':>9s}  validated per run seed")
    for name, runs in results.items():
        valid = mean_interval([r["validated"] for r in runs])
        optimism = mean_interval([r["selection"] - r["validated"] for r in runs])
        shares = [r["meta_rl"][-1] for r in runs if r["meta_rl"]]
        reach = [next((steps for steps, best in r["curve"] if best >= target), None) for r in runs]
        reached = [s for s in reach if s is not None]
        thirds = [r["third"] for r in runs if r.get("third") is not None]
        third = mean_interval(thirds) if len(thirds) > 1 else None
        per_seed = " ".join(f"{r.get('seed', i)}: {r['validated']:.3f}" for i, r in enumerate(runs))
        print(f"{name[:55]:55s} {len(runs):2d} {valid.mean:7.3f} [{valid.low:.3f}, {valid.high:.3f}] "
              f"{optimism.mean:+7.3f} [{optimism.low:+.3f}, {optimism.high:+.3f}] "
              f"{(np.mean(shares) if shares else float('nan')):7.2f} "
              f"{(f'{np.mean(reached) / 1e6:.0f}M ({len(reached)}/{len(runs)})' if reached else '-'):>16s} "
              f"{(f'{third.mean:7.3f} [{third.low:.3f}, {third.high:.3f}]' if third else '-'):>22s} "
              f"{sum(t >= target for t in thirds):>4d}/{len(runs):<3d} "
              f"{np.mean([r['env_steps'] for r in runs]) / 1e6:8.0f}M  {per_seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/bandits.yaml")
    parser.add_argument("--set", action="append", default=[], help="override for every arm, key.path=value")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--validate", type=int, default=10, help="fresh seeds per winner")
    parser.add_argument("--generations", type=int, default=None, help="the single-seed GA's generations")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default="runs/selection-benchmark")
    parser.add_argument("--candidates", action="store_true", help="also the further combinations measured to "
                        "choose the default")
    parser.add_argument("--revalidate", nargs="+", metavar="FOLDER", default=[], help="name and validate these "
                        "arms' winners again from their archives (after a change to how a run names its best)")
    parser.add_argument("--only", nargs="+", metavar="FOLDER", help="run only these arms (by folder, e.g. "
                        "survival-3); the others are shown where measured already")
    parser.add_argument("--from-summary", metavar="FILE", nargs="+", default=[], help="summary.json files this command "
                        "wrote before, with run seeds 0, 1, ...: their arms' per-seed figures are taken instead of "
                        "running them again")
    args = parser.parse_args()
    console, out = Console(stderr=True), Path(args.out)
    for summary in args.from_summary:
        take_summary(Path(summary), out, {**ARMS, **CANDIDATES, "Optuna TPE": ("tpe", [])})
    base = load_config(args.config, [*args.set, *LEGACY])
    generations = args.generations or base.generations
    budget = base.population * generations * sum(s.lifetime.train_env_steps for s in base.fitness_suites())
    common = [*args.set, *([f"cluster.workers={args.workers}"] if args.workers is not None else [])]
    results: dict[str, list[dict[str, Any]]] = {}
    arms = {**ARMS, **(CANDIDATES if args.candidates else {})}
    if args.only:
        arms = {n: a for n, a in {**ARMS, **CANDIDATES}.items() if a[0] in args.only or n in ARMS}
    for name, (folder, overrides) in arms.items():
        for seed in args.seeds:
            run_dir = out / folder / f"seed-{seed}"
            done = run_dir.with_name(run_dir.name + ".json")  # a finished run's figures: an interrupted benchmark goes on
            if args.only and folder not in args.only and not done.is_file():
                continue  # not asked for, not measured yet
            if done.is_file():
                result = json.loads(done.read_text())
                if folder in args.revalidate and not result.get("revalidated"):
                    result.update(_winners(run_dir, result, budget, args.validate, args.workers, console),
                                  revalidated=True)
                    done.write_text(json.dumps(result, default=float))
                if "third" not in result:  # measured before the checkpoint existed: its archive has it
                    third = best_within(run_dir, result, budget)
                    result["third"] = third and validated(str(run_dir), third, None, None, args.validate,
                                                          args.workers, console)
                    done.write_text(json.dumps(result, default=float))
                results.setdefault(name, []).append({**result, "seed": seed})
                continue
            shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished run starts over (deterministic: the same run)
            if folder == "random":  # the GA's whole budget as one generation of random genomes
                overrides = [*overrides, f"population={base.population * generations}"]
            result = evolve_arm(args.config, [*common, *overrides, f"seed={seed}"], run_dir, budget, generations,
                                console)
            result.update(_winners(run_dir, result, budget, args.validate, args.workers, console))
            done.write_text(json.dumps(result, default=float))
            results.setdefault(name, []).append({**result, "seed": seed})
    suite_files = run_suites(load_config(args.config, args.set), out / "suites")
    for seed in args.seeds:
        done = out / "tpe" / f"seed-{seed}.json"
        genome_file = str(out / "tpe" / f"tpe-seed-{seed}.json")
        if done.is_file():
            result = json.loads(done.read_text())
        elif args.only and "tpe" not in args.only:
            continue  # not asked for, not measured yet
        else:
            result = tpe_arm(args.config, [*common, f"seed={seed}"], seed, budget, out / "tpe",
                             args.workers or os.cpu_count() or 1)
            result["revalidated"] = True  # validated at the run's budget (run_suites) from the start
        if not result.get("revalidated"):  # validated before on the suite files' own budgets: again at the run's
            result["validated"] = None
            result.pop("third", None)
            result["revalidated"] = True
        if not Path(genome_file).is_file():  # a result taken from a summary: its genome file from its genes
            Path(genome_file).parent.mkdir(parents=True, exist_ok=True)
            Path(genome_file).write_text(json.dumps({"schema": "evo_fastslow.genomes/1",
                                                     "genomes": [{"name": "tpe", "genes": result["genes"]}]}))
        if result.get("validated") is None:
            result["validated"] = validated(genome_file, Candidate("tpe", result["genes"],
                                                                   selection=result["selection"]),
                                            suite_files, seed, args.validate, args.workers, console)
            done.write_text(json.dumps(result, default=float))
        if "third" not in result:
            if "third_genes" not in result:  # measured before the checkpoint existed: replay the study's asks
                result["third_genes"] = tpe_arm(args.config, [*common, f"seed={seed}"], seed, budget / 3,
                                                out / "tpe-third", args.workers or os.cpu_count() or 1)["genes"]
            result["third"] = result["third_genes"] and validated(
                genome_file, Candidate("tpe", result["third_genes"]), suite_files, seed, args.validate, args.workers, console)
        done.write_text(json.dumps(result, default=float))
        results.setdefault("Optuna TPE", []).append({**result, "seed": seed})
    print_table(results, budget)
    (out / "summary.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
