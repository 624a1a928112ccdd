"""The scheduler's cost model against measurement: does `expected_cost` price each kind of genome as the
lifetime really costs?

`expected_cost` (lifetime/run.py) is the relative run time the scheduler orders jobs by and the plan turns
into core-hours (seconds per unit measured on the default genome, evolution/plan.py). A kind of genome it
under-prices makes every plan that searches it promise less than the run spends. Here each kind runs one
short lifetime on the independent bandits (one core, reproducible numerics, rounds interleaved so a load
on the machine falls on every kind alike), and the table gives seconds per unit of expected cost relative to
the fused LSTM: 1.0 where the model prices it right, 3.0 where the lifetime costs three times what it is
priced at.

    python benchmarks/cost_model.py [--steps 200000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

KINDS = {  # label: gene changes to wang2016-lstm
    "lstm (fused)": {},
    "gru (fused)": {"core": "gru"},
    "feedforward": {"core": "feedforward"},
    "lstm, mlp encoder 32": {"encoder": "mlp", "encoder_width": 32},
    "lstm, conv encoder 16": {"encoder": "conv", "encoder_width": 16},
    "feedforward, mlp encoder 32": {"core": "feedforward", "encoder": "mlp", "encoder_width": 32},
    "lstm, reinstate (512, k 8)": {"episodic_memory": "reinstate", "memory_capacity": 512, "memory_k": 8},
    "gru, reinstate (512, k 8)": {"core": "gru", "episodic_memory": "reinstate", "memory_capacity": 512,
                                  "memory_k": 8},
    "lstm, value (512, k 50)": {"episodic_memory": "value", "memory_capacity": 512, "memory_k": 50},
    "lstm, value (3000, k 38)": {"episodic_memory": "value", "memory_capacity": 3000, "memory_k": 38},
}


def measure(changes: dict, steps: int) -> tuple[float, float, str]:
    """(seconds, expected cost, engine) of one lifetime of `steps` env-steps."""
    import torch

    from evo_fastslow.genome import load_genome
    from evo_fastslow.lifetime import expected_cost, run_lifetime
    from evo_fastslow.suite import load_suite

    torch.set_num_threads(1)
    genome = load_genome("populations/reference.json:wang2016-lstm").with_genes(**changes)
    suite = load_suite("fitness/bandit-independent.yaml")
    suite = suite.model_copy(update={"lifetime": suite.lifetime.model_copy(update={"train_env_steps": steps}),
                                     "test": suite.test.model_copy(update={"episodes": 1})})
    start = time.perf_counter()
    result = run_lifetime(genome, suite, seed=0)
    return time.perf_counter() - start, expected_cost(dict(genome.genes), suite), result.engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    measure({}, 20_000)  # warm-up: the kernel build, imports
    seconds: dict[str, list[float]] = {label: [] for label in KINDS}
    costs, engines = {}, {}
    for _ in range(args.rounds):
        for label, changes in KINDS.items():
            spent, costs[label], engines[label] = measure(changes, args.steps)
            seconds[label].append(spent)
    unit = statistics.median(seconds["lstm (fused)"]) / costs["lstm (fused)"]
    print(f"{args.steps} env-steps per lifetime on the independent bandits, {args.rounds} interleaved rounds; "
          "'ratio': seconds per unit of expected cost, relative to the fused LSTM")
    print(f"{'genome':32s} {'engine':>7s} {'expected cost':>14s} {'seconds (median)':>17s} {'ratio':>6s}")
    for label in KINDS:
        spent = statistics.median(seconds[label])
        print(f"{label:32s} {engines[label]:>7s} {costs[label]:14.1f} {spent:17.2f} {spent / costs[label] / unit:6.2f}")


if __name__ == "__main__":
    main()
