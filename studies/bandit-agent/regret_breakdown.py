"""Where an agent's regret comes from (issue 22): one lifetime of a genome on a bandit suite, then its test
regret split by pull window and by the gap between the two best arms, beside the suite's baselines on the
same held-out tasks (Bayes-optimal, Gittins, Thompson, greedy, ...) and, on two arms, the policy that
is Bayes-optimal for the genome's own discount: the best an agent trained on that discount can reach.

    python studies/bandit-agent/regret_breakdown.py populations/evolved.json:bandit-agent-wide
    python studies/bandit-agent/regret_breakdown.py populations/reference.json:wang2018-lstm --suite fitness/bandit-correlated.yaml

The agent's figures are those `evo-fastslow lifetime` reports for the same seed (the same test tasks, the
same action noise), and so are the baselines'. Also: the share of the last tenth of each episode's pulls
that go to a worse arm (a wrong commitment, or sampling noise), and the same after acting greedily from
`--greedy-from` of each episode on (half-way by default; how much the policy's remaining randomness costs).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evo_fastslow.genome import load_genome  # noqa: E402
from evo_fastslow.lifetime import fused  # noqa: E402
from evo_fastslow.lifetime.a2c import act  # noqa: E402
from evo_fastslow.lifetime.reference import test_batches  # noqa: E402
from evo_fastslow.lifetime.run import train_and_test  # noqa: E402
from evo_fastslow.numerics import fixed_mode  # noqa: E402
from evo_fastslow.seeds import derive_seed, numpy_generator  # noqa: E402
from evo_fastslow.suite import load_suite  # noqa: E402
from evo_fastslow.tasks.bandit import BanditTask  # noqa: E402
from evo_fastslow.tasks.bandit_baselines import BayesOptimalPolicy, discounted_ceiling  # noqa: E402
from evo_fastslow.tasks.base import KnownArms, run_policy  # noqa: E402

WINDOWS = (0.0, 0.1, 0.25, 0.5, 1.0)  # fractions of the episode's pulls
GAPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)  # best minus second-best arm value


def breakdown(values: np.ndarray, actions: np.ndarray) -> dict[str, list[float] | float]:
    """values [E, k] arm values, actions [T, E]: regret per episode by pull window and by gap, and the late
    share of pulls to a worse arm."""
    steps, episodes = actions.shape
    regret = values.max(1)[None, :] - np.take_along_axis(values.T, actions, axis=0)  # [T, E]
    cuts = [round(w * steps) for w in WINDOWS]
    by_window = [float(regret[a:b].sum(0).mean()) for a, b in zip(cuts, cuts[1:])]
    ordered = np.sort(values, axis=1)
    gap = ordered[:, -1] - ordered[:, -2]
    bins = np.clip(np.digitize(gap, GAPS) - 1, 0, len(GAPS) - 2)
    total = regret.sum(0)
    by_gap = [float(total[bins == b].mean()) if (bins == b).any() else float("nan") for b in range(len(GAPS) - 1)]
    late = actions[-max(1, steps // 10):]
    worse = values[np.arange(episodes)[None, :], late] < values.max(1)[None, :]
    return {"regret": float(total.mean()), "by_window": by_window, "by_gap": by_gap,
            "late_worse_share": float(worse.mean()), "episodes_by_gap": np.bincount(bins, minlength=len(GAPS) - 1)}


def agent_actions(agent, task, suite, seed: int, greedy_from: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The frozen agent on the suite's test tasks, as the lifetime's test plays them (same action noise);
    with `greedy_from`, no sampling noise from that fraction of each episode on."""
    rng, values, actions = numpy_generator(seed, "test-actions"), [], []
    original = fused.noise_for
    if greedy_from is not None:
        def noise_for(tables, batch, generator):
            noise = original(tables, batch, generator)
            noise[round(greedy_from * len(noise)):] = 0.0
            return noise
        fused.noise_for = noise_for
    try:
        for batch, episodes, _ in test_batches(suite, task, seed):
            if fused.fits(agent, task):
                rollout = fused.act(agent, episodes, batch, rng)
            else:  # (greedy_from needs the kernel's noise: main asks for it only where the kernel fits)
                rollout = act(agent, task, episodes, batch, rng, agent.new_memory(batch))
            values.append(episodes.arm_values)
            actions.append(rollout.actions)
    finally:
        fused.noise_for = original
    return np.concatenate(values), np.concatenate(actions, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("genome", help="a genome file spec FILE[:NAME]")
    parser.add_argument("--suite", default=str(ROOT / "fitness/bandit-independent.yaml"))
    parser.add_argument("--seed", type=int, default=0, help="the lifetime's seed (as `evo-fastslow lifetime --seed`)")
    parser.add_argument("--greedy-from", type=float, default=0.5, metavar="FRACTION",
                        help="also act greedily from this fraction of each episode on (0: every pull; needs the "
                             "fused kernel: an LSTM or GRU without episodic memory)")
    args = parser.parse_args()
    if not 0.0 <= args.greedy_from <= 1.0:
        parser.error(f"--greedy-from {args.greedy_from}: a fraction of the episode in [0, 1] expected")
    genome, suite = load_genome(args.genome), load_suite(args.suite)
    task = suite.build_task()
    if not isinstance(task.sample(1, np.random.default_rng(0)), KnownArms):
        raise SystemExit(f"{args.suite}: a bandit suite (episodes with known arm values) expected")
    agent, result = train_and_test(genome, suite, args.seed)
    if result.status != "ok":
        raise SystemExit(f"the lifetime failed: {result.status} ({result.reason})")
    rows = {}
    with fixed_mode():
        values, actions = agent_actions(agent, task, suite, args.seed)
        rows[f"{genome.name or 'agent'} (agent)"] = breakdown(values, actions)
        if fused.fits(agent, task):
            rows[f"  greedy from {args.greedy_from:g}"] = breakdown(*agent_actions(agent, task, suite, args.seed,
                                                                                    args.greedy_from))
    makers = {name: make for name, make in task.baselines().items() if name not in ("random", "oracle")}
    if isinstance(task, BanditTask) and task.arms == 2:  # the best any agent with the genome's discount can do
        makers[f"bayes-optimal, γ {genome['discount']:.3g}"] = partial(BayesOptimalPolicy, task.trials,
                                                                       task.distribution, genome["discount"])
    for name, make in makers.items():
        acted = [run_policy(task, episodes, batch, make(), derive_seed(args.seed, "baseline", name, i))[0]
                 for i, (batch, episodes, _) in enumerate(test_batches(suite, task, args.seed))]
        rows[name] = breakdown(values, np.concatenate(acted, axis=1))
    steps = actions.shape[0]
    cuts = [round(w * steps) for w in WINDOWS]
    windows = [f"{a + 1}-{b}" for a, b in zip(cuts, cuts[1:])]
    gaps = [f"{a:g}-{b:g}" for a, b in zip(GAPS, GAPS[1:])]
    counts = next(iter(rows.values()))["episodes_by_gap"]
    print(f"{args.genome} on {suite.name}, lifetime seed {args.seed}: {len(values)} held-out tasks "
          f"(the lifetime's test regret: {result.test_regret:.3f})\n")
    print(f"{'regret per episode':24s} {'total':>6s}   by pulls " + " ".join(f"{w:>7s}" for w in windows)
          + f"   worse arm, last {max(1, steps // 10)} pulls")
    for name, row in rows.items():
        print(f"{name:24s} {row['regret']:6.3f}   {'':8s} " + " ".join(f"{v:7.3f}" for v in row["by_window"])
              + f"   {row['late_worse_share']:.3f}")
    print(f"\n{'by gap of the best two':24s} " + " ".join(f"{g:>8s}" for g in gaps))
    print(f"{'  tasks':24s} " + " ".join(f"{int(c):8d}" for c in counts))
    for name, row in rows.items():
        print(f"{name:24s} " + " ".join(f"{v:8.2f}" for v in row["by_gap"]))
    if isinstance(task, BanditTask) and task.arms == 2:
        print(f"\nThe exact expected regret of the policy that is Bayes-optimal for a discounted return (the best an "
              f"agent trained on that discount can reach; {task.distribution} arms, {task.trials} pulls):")
        print("  " + ", ".join(f"{d:g}: {discounted_ceiling(task.trials, task.distribution, d):.3f}"
                               for d in sorted({0.0, 0.5, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0, genome["discount"]})))


if __name__ == "__main__":
    main()
