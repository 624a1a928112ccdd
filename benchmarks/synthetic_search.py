"""Searchers on a synthetic noisy mixed objective with a known optimum (searchers/check.py:
synthetic_objective), no lifetimes: how many evaluations each needs to propose a genome within reach of
the optimum, and how good the genome it would name is (the best by noisy value, judged by the true one).

Every searcher is driven as the run's drivers drive it (check.drive: steady-state under the lag rule, or
generation by generation), on the quickstart's search space (10 genes: 3 categorical, 7 numeric), with
noise as large as a lifetime's (sd 0.1 on a [0, 1] scale).

    python benchmarks/synthetic_search.py                       # 50 objective seeds, 256 evaluations
    python benchmarks/synthetic_search.py --seeds 10 --evaluations 128
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evo_fastslow.statistics import mean_interval
from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.searchers.base import SearchContext
from evo_fastslow.evolution.searchers.check import drive, synthetic_objective
from evo_fastslow.evolution.searchers.registry import searcher_class, settings_of

ARMS = {  # name: the searcher settings
    "random (nevergrad RandomSearch)": {"name": "nevergrad", "optimizer": "RandomSearch"},
    "ga (default settings of quickstart)": {"name": "ga", "elites": 2, "mutation_rate": 0.2},
    "aging": {"name": "aging", "lag": 4},
    "cmaes": {"name": "cmaes"},
    "tpe, categorical native": {"name": "tpe", "lag": 4, "categorical": "native"},
    "tpe, categorical cube": {"name": "tpe", "lag": 4, "categorical": "cube"},
    "de (TwoPointsDE)": {"name": "de", "lag": 4},
    "guided, forest, ei": {"name": "guided", "lag": 4, "surrogate": "forest", "acquisition": "ei"},
    "guided, forest, ucb": {"name": "guided", "lag": 4, "surrogate": "forest", "acquisition": "ucb"},
    "guided, parzen": {"name": "guided", "lag": 4, "surrogate": "parzen"},
    "ngopt": {"name": "ngopt", "lag": 4},
}


def measure(settings: dict, seed: int, evaluations: int, popsize: int, reach: float, noise: float) -> dict:
    space = load_config("configs/quickstart.yaml").space()
    noisy, true = synthetic_objective(space, seed, noise)
    config = settings_of({**settings, **({"budget": evaluations} if settings["name"] in ("de", "ngopt", "nevergrad")
                                         else {})})
    context = SearchContext(space, popsize, -(-evaluations // popsize), seed, [])
    done = drive(searcher_class(settings["name"])(config, context), context, noisy, evaluations)
    truths = [true(c.genome) for c, _ in done]
    first = next((i + 1 for i, t in enumerate(truths) if t >= reach), None)
    named = max(range(len(done)), key=lambda i: (done[i][1], -i))  # what a user would take: the best seen
    return {"first": first, "named": truths[named], "best": max(truths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--evaluations", type=int, default=256)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--reach", type=float, default=0.9, help="a proposal whose true value is at least this")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--only", nargs="+", help="arms whose name starts with one of these")
    args = parser.parse_args()
    print(f"{args.seeds} objective seeds, {args.evaluations} evaluations, population {args.population}, noise sd "
          f"{args.noise}; 'reached': proposals with true value >= {args.reach}")
    print(f"{'arm':38s} {'reached':>8s} {'evaluations to reach (median, IQR)':>36s} "
          f"{'true value of the named best':>30s} {'s':>6s}")
    for name, settings in ARMS.items():
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        start = time.perf_counter()
        runs = [measure(settings, seed, args.evaluations, args.population, args.reach, args.noise)
                for seed in range(args.seeds)]
        firsts = [r["first"] for r in runs if r["first"] is not None]
        named = mean_interval([r["named"] for r in runs])
        spread = (f"{np.median(firsts):.0f} ({np.percentile(firsts, 25):.0f}-{np.percentile(firsts, 75):.0f})"
                  if firsts else "-")
        print(f"{name:38s} {len(firsts):>4d}/{len(runs):<3d} {spread:>36s} "
              f"{named.mean:18.3f} [{named.low:.3f}, {named.high:.3f}] {time.perf_counter() - start:6.0f}")


if __name__ == "__main__":
    main()
