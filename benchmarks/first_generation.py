"""How often a first generation holds no genome that can learn the main job's bandits, by design and size.

No lifetimes: the quickstart's search space is sampled as `ga` samples its first generation
(`searcher.initial_design`: independent draws or a Latin hypercube), and a genome counts as a possible
learner when it is what every winner of the main job has been: a recurrent core (LSTM or GRU) fed its last
action and reward, with an entropy cost below 0.05 (benchmarks/results/main-job*.txt). Printed: the share
of first generations with none, over many run seeds.

    python benchmarks/first_generation.py [--sizes 8 16] [--draws 2000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from evo_fastslow.evolution.config import load_config
from evo_fastslow.evolution.searchers.base import SearchContext, initial_population
from evo_fastslow.genome import Genome

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def possible_learner(genome: Genome) -> bool:
    return genome["core"] in ("lstm", "gru") and genome["meta_inputs"] == "action_reward" \
        and genome["entropy_cost"] < 0.05


def share_without(size: int, design: str, draws: int) -> float:
    space = load_config(CONFIG, []).space()
    context = SearchContext(space, size, 1, 0, [])
    empty = sum(not any(possible_learner(c.genome) for c in
                        initial_population(context, np.random.default_rng(seed), design=design))
                for seed in range(draws))
    return empty / draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--draws", type=int, default=2000, help="first generations per cell (run seeds)")
    args = parser.parse_args()
    print(f"{'genomes':>8}  {'design':<16} first generations with no possible learner")
    for size in args.sizes:
        for design in ("random", "latin-hypercube"):
            print(f"{size:>8}  {design:<16} {share_without(size, design, args.draws):.1%}")


if __name__ == "__main__":
    main()
