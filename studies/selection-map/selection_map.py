"""The selection map study (issue 43): does evolution select each fast-learning mechanism where it pays?

One evolution per world from random genomes (`search.yaml`: core, meta-RL inputs, episodic memory and its
genes, encoder and its width, intrinsic bonus and its weight, beside the learner's genes), three run seeds,
under the default searcher and evaluation policy; each winner ablated (every mechanism removed, paired on
fresh seeds); the map drawn by `evo-fastslow map`. Run from the repository's root; every step is resumable
(a finished run or ablation is read back, an unfinished run resumed).

    python studies/selection-map/selection_map.py curves   # each world's reference agent at 1/8 ... 1 of its
                                                           # suite's budget: the budget at which it clearly learns
    python studies/selection-map/selection_map.py plan     # what the study would spend, per world and in all
    python studies/selection-map/selection_map.py run      # evolve, ablate, draw the map (results/)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from evo_fastslow import api  # noqa: E402
from evo_fastslow.analysis.selection_map import ABLATIONS, map_figure, map_table  # noqa: E402
from evo_fastslow.analysis.plots import svg  # noqa: E402
from evo_fastslow.archive import Archive  # noqa: E402
from evo_fastslow.console import make_console  # noqa: E402
from evo_fastslow.suite import load_suite  # noqa: E402

# world -> (its suite, the reference genome the papers' agent is for it)
WORLDS = {
    "independent bandits": ("fitness/bandit-independent.yaml", "wang2016-lstm"),
    "recurring contextual bandits": ("fitness/recurring-contextual-bandits.yaml", "ritter2018-eplstm"),
    "recurring mazes": ("fitness/gridworld-recurring.yaml", "gridworld-lstm"),
    "Harlow": ("fitness/harlow.yaml", "wang2018-lstm"),
    "two-step": ("fitness/two-step.yaml", "wang2018-lstm"),
    "jackpot bandit": ("fitness/jackpot-bandit.yaml", "jackpot-surprise-lstm"),
}
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
CLEARLY_LEARNS = 0.9  # the smallest budget whose score is at least this share of the best budget's
BUDGETS = HERE / "results" / "budgets.json"


def suite_at(world: str, budget: int, folder: Path) -> str:
    """A copy of the world's suite with another lifetime budget."""
    suite = load_suite(ROOT / WORLDS[world][0])
    document = suite.model_dump(mode="json", exclude_none=True, by_alias=True)
    document["lifetime"]["train_env_steps"] = budget
    path = folder / f"{suite.name}-{budget}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def curves(args: argparse.Namespace) -> None:
    """Each world's reference agent at fractions of its suite's budget, on fresh seeds."""
    found = json.loads(BUDGETS.read_text()) if BUDGETS.is_file() else {}
    for world, (suite_file, genome) in WORLDS.items():
        if world in found:
            continue
        full = load_suite(ROOT / suite_file).lifetime.train_env_steps
        points = []
        for fraction in FRACTIONS:
            budget = int(full * fraction)
            report = api.validate(f"{ROOT}/populations/reference.json:{genome}", seeds=args.seeds,
                                  suites=[suite_at(world, budget, Path(args.out) / "suites")], workers=args.workers,
                                  archive=str(Path(args.out) / "curves.sqlite"))  # an interrupted curve goes on
            fitness = report["genomes"][0]["validated_fitness"]
            points.append({"budget": budget, "fitness": fitness})
            print(f"{world}: {genome} at {budget / 1e6:g}M env-steps: {fitness['mean']:.3f} "
                  f"[{fitness['low']:.3f}, {fitness['high']:.3f}]", flush=True)
        best = max(p["fitness"]["mean"] for p in points)
        chosen = next(p["budget"] for p in points if p["fitness"]["mean"] >= CLEARLY_LEARNS * best)
        found[world] = {"genome": genome, "curve": points, "budget": chosen}
        BUDGETS.write_text(json.dumps(found, indent=1))
        print(f"{world}: budget {chosen / 1e6:g}M env-steps per lifetime", flush=True)


def overrides(world: str, seed: int, budgets: dict) -> list[str]:
    return [f"suites=[{WORLDS[world][0]}]", f"budget.train_env_steps={budgets[world]['budget']}", f"seed={seed}",
            f"name=selection-map-{world.replace(' ', '-').lower()}"]


def read_budgets() -> dict:
    if not BUDGETS.is_file():
        sys.exit(f"{BUDGETS}: no budgets yet; run `python {Path(__file__).relative_to(ROOT)} curves` first")
    return json.loads(BUDGETS.read_text())


def plan(args: argparse.Namespace) -> None:
    budgets, total = read_budgets(), 0.0
    for world in WORLDS:
        if world not in budgets:
            print(f"{world}: no budget measured yet (the `curves` step goes on from where it stopped)")
            continue
        found = api.plan(HERE / "search.yaml", overrides(world, 0, budgets))
        runs = len(args.seeds)
        total += runs * (found["core_hours"] or 0.0)
        print(f"{world}: {budgets[world]['budget'] / 1e6:g}M per lifetime; per run at most {found['lifetimes']} "
              f"lifetimes, {found['env_steps'] / 1e6:,.0f}M env-steps, {found['core_hours'] or float('nan'):.2f} "
              f"core-hours; {runs} runs")
    print(f"in all at most {total:.1f} core-hours of evolution (ablations besides)")


def run(args: argparse.Namespace) -> None:
    budgets, console = read_budgets(), make_console(stderr=True)
    runs: dict[str, list[Path]] = {}
    missing = [world for world in WORLDS if world not in budgets]
    if missing:  # the map needs every world; the worlds measured so far can evolve meanwhile
        print(f"no budget measured yet for {', '.join(missing)} (run the `curves` step): those worlds wait",
              file=sys.stderr)
    for world in (w for w in WORLDS if w in budgets):
        for seed in args.seeds:
            run_dir = Path(args.out) / world.replace(" ", "-").lower() / f"seed-{seed}"
            if (run_dir / "archive.sqlite").is_file():  # a finished run only replays; an unfinished one goes on
                api.resume(run_dir, yes=True)
            else:
                api.evolve(HERE / "search.yaml", overrides(world, seed, budgets), run_dir=run_dir, yes=True)
            with Archive(run_dir / "archive.sqlite", create=False) as archive:
                ablated = archive.meta("ablation") is not None
            if not ablated:
                api.ablate(str(run_dir), genes=ABLATIONS, seeds=args.ablate_seeds, workers=args.workers, console=console)
            runs.setdefault(world, []).append(run_dir)
    frame = api.selection_map(runs)
    make_console().print(map_table(frame))
    (HERE / "results").mkdir(exist_ok=True)
    frame.to_json(HERE / "results" / "map.json", orient="records", indent=1)
    (HERE / "results" / "map.svg").write_text(svg(map_figure(frame)), encoding="utf-8")
    print(f"map: {HERE / 'results' / 'map.json'}, {HERE / 'results' / 'map.svg'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("curves", "plan", "run"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="run seeds per world (run, plan); "
                        "with curves: a count, the fresh seeds per budget")
    parser.add_argument("--ablate-seeds", type=int, default=6, help="fresh seeds each winner's ablation is paired on")
    parser.add_argument("--workers", type=int, default=None, help="validation and ablation workers")
    parser.add_argument("--out", default="runs/selection-map")
    args = parser.parse_args()
    if args.step == "curves":
        args.seeds = args.seeds[0] if len(args.seeds) == 1 else 4
    {"curves": curves, "plan": plan, "run": run}[args.step](args)


if __name__ == "__main__":
    main()
