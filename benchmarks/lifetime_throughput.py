"""Lifetime throughput: env-steps/s with learning included, one core, side by side with the naive way.

The naive way is what most meta-RL code does: one Gymnasium env stepped one episode at a time
(batch 1), an LSTMCell and a torch.distributions.Categorical per step, autograd through the rollout,
an A2C update per episode. The batched lifetime is `run_lifetime` itself: through the fused kernel
where the genome fits it (lifetime/fused.py), and then also through the Python path
(EVO_FASTSLOW_KERNEL=off) beside it; each in both numerics modes: `reproducible` (the default: the
same numbers on every CPU) beside `native` (ATen's and NumPy's per-CPU kernels, what the project did
before issue 11), and on request `native-cbwr` (native with MKL's conditional numerical
reproducibility pinned, `MKL_CBWR=AVX2`: the other way to fixed numbers, measured against ours).
Each configuration runs in a fresh process (so peak memory is its own), one after the other, on one
thread.

    python benchmarks/lifetime_throughput.py [--only bandit] [--batches 16 64 256]
                                             [--numerics reproducible native native-cbwr]
    python benchmarks/lifetime_throughput.py --knobs   # what each learner knob costs the fused kernel

Rows: the reference genome of every suite (and a GRU twin of the bandit's) at each batch size, and
the naive loop for each suite whose reference genome has no episodic memory. Peak memory is the process's (torch included).
The gridworld (not tabular: the Python path) also runs with a conv encoder, and as the same task through
Gymnasium's vector API (`gridworld@gymnasium`: the `gymnasium` task kind over its registered twin);
"env share" is the fraction of the lifetime spent stepping the environment.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor

UPDATES = 20             # gradient updates per batched measurement, at least
MIN_STEPS = 200_000      # env steps per batched measurement, at least (short episodes need more updates)
NAIVE_STEPS = 6000       # env steps of the naive loop
PAIRS = [  # (reference genome, suite, gene changes): every suite's reference genome, and a GRU twin
    ("wang2016-lstm", "bandit-independent", {}),
    ("wang2016-lstm", "bandit-independent", {"core": "gru"}),
    ("wang2018-lstm", "two-step", {}),
    ("wang2018-lstm", "harlow", {}),
    ("ritter2018-eplstm", "recurring-contextual-bandits", {}),
    ("nec-dnd", "recurring-contextual-bandits", {}),
    ("jackpot-surprise-lstm", "jackpot-bandit", {}),  # an intrinsic bonus (the kernel adds it)
    ("wang2016-lstm", "gridworld", {}),
    ("wang2016-lstm", "gridworld", {"encoder": "conv", "encoder_width": 16}),
    ("wang2016-lstm", "gridworld@gymnasium", {}),  # the same task through Gymnasium's vector API
]


def _suite(name: str):
    """A suite file by name; `NAME@gymnasium`: its task's Gymnasium twin run by the `gymnasium` task kind."""
    from evo_fastslow.suite import load_suite
    from evo_fastslow.tasks import GYM_IDS

    suite = load_suite(f"fitness/{name.split('@')[0]}.yaml")
    if not name.endswith("@gymnasium"):
        return suite
    task = suite.build_task()
    spec = {"kind": "gymnasium", "params": {"env_id": GYM_IDS[task.kind], "env_kwargs": task.gym_kwargs(),
                                             "trials": task.steps}}
    return suite.model_validate({**suite.model_dump(by_alias=True), "task": spec, "metric": "test_reward"})


def _time_env_steps(task) -> list[float]:
    """Wrap the task's episodes' `step` to add up the seconds spent in the environment."""
    import numpy as np

    spent = [0.0]
    cls = type(task.sample(1, np.random.default_rng(0)))
    step = cls.step

    def timed(self, t, actions):
        start = time.perf_counter()
        try:
            return step(self, t, actions)
        finally:
            spent[0] += time.perf_counter() - start

    cls.step = timed
    return spent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batched(genome_spec: str, changes: dict, suite_name: str, batch: int, kernel: str, numerics: str
            ) -> tuple[float, float, float, bool, float | None]:
    """(env-steps/s, seconds per lifetime of the suite's budget, peak MiB, fused?, the environment's share
    of the time or None when the fused kernel steps it) of run_lifetime at batch B."""
    os.environ["EVO_FASTSLOW_KERNEL"] = kernel
    if numerics == "native-cbwr":  # the alternative issue 11 proposed: MKL's fixed code path, set before torch loads
        os.environ["MKL_CBWR"] = "AVX2"
    os.environ["EVO_FASTSLOW_NUMERICS"] = numerics.removesuffix("-cbwr")
    import torch

    from evo_fastslow.genome import load_genome
    from evo_fastslow.lifetime import run_lifetime

    torch.set_num_threads(1)
    genome = load_genome(genome_spec).with_genes(**changes, episodes_per_update=batch)
    suite = _suite(suite_name)
    budget = suite.lifetime.train_env_steps
    trials = suite.build_task().steps
    short = suite.model_copy(update={
        "lifetime": suite.lifetime.model_copy(update={"train_env_steps": max(UPDATES * batch * trials, MIN_STEPS)}),
        "test": suite.test.model_copy(update={"episodes": 1})})
    run_lifetime(genome, short.model_copy(update={"lifetime": short.lifetime.model_copy(
        update={"train_env_steps": 2 * batch * trials})}), seed=1)  # warm-up
    spent = _time_env_steps(suite.build_task())
    start = time.perf_counter()
    result = run_lifetime(genome, short, seed=0)
    elapsed = time.perf_counter() - start
    rate = result.env_steps / elapsed
    fused = result.engine == "fused"
    return rate, budget / rate, _peak_mib(), fused, None if fused else spent[0] / elapsed


def naive(genome_spec: str, suite_name: str) -> tuple[float, float, float]:
    """The same A2C-LSTM written the usual way: a Gymnasium env, batch 1, per-step distributions."""
    import gymnasium as gym
    import torch
    from torch import nn

    from evo_fastslow.genome import load_genome
    from evo_fastslow.tasks import GYM_IDS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    genome, suite = load_genome(genome_spec), _suite(suite_name)
    task = suite.build_task()
    env = gym.make(GYM_IDS[task.kind], **task.gym_kwargs())
    k, hidden = task.n_actions, genome["hidden_size"]
    cell, policy, value = nn.LSTMCell(task.obs_dim + k + 1, hidden), nn.Linear(hidden, k), nn.Linear(hidden, 1)
    params = [*cell.parameters(), *policy.parameters(), *value.parameters()]
    optimizer = torch.optim.Adam(params, lr=genome["learning_rate"])
    steps, start, episode = 0, time.perf_counter(), 0
    while steps < NAIVE_STEPS:
        episode += 1
        obs, _ = env.reset(seed=episode)
        h = c = torch.zeros(1, hidden)
        prev_action, prev_reward = torch.zeros(k), 0.0
        log_probs, values, entropies, rewards = [], [], [], []
        done = False
        while not done:
            x = torch.cat([torch.as_tensor(obs), prev_action, torch.tensor([prev_reward])]).unsqueeze(0)
            h, c = cell(x, (h, c))
            dist = torch.distributions.Categorical(logits=policy(h))
            action = dist.sample()
            obs, reward, terminated, truncated, _ = env.step(action.item())
            log_probs.append(dist.log_prob(action))
            entropies.append(dist.entropy())
            values.append(value(h).squeeze())
            rewards.append(reward)
            prev_action, prev_reward = nn.functional.one_hot(action[0], k).float(), reward
            done = terminated or truncated
            steps += 1
        returns, running = [], 0.0
        for reward in reversed(rewards):
            running = reward + genome["discount"] * running
            returns.insert(0, running)
        returns_t, values_t = torch.tensor(returns), torch.stack(values)
        advantage = returns_t - values_t.detach()
        loss = (-(torch.cat(log_probs) * advantage).mean()
                + genome["value_cost"] * 0.5 * (returns_t - values_t).pow(2).mean()
                - genome["entropy_cost"] * torch.cat(entropies).mean())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, genome["grad_clip"])
        optimizer.step()
    rate = steps / (time.perf_counter() - start)
    return rate, suite.lifetime.train_env_steps / rate, _peak_mib()


KNOBS = [("off (the defaults)", {}),
         ("entropy annealed", {"entropy_schedule": "linear"}),
         ("learning rate annealed", {"lr_schedule": "linear"}),
         ("GAE lambda 0.9", {"gae_lambda": 0.9}),
         ("advantages normalised", {"normalize_advantages": True}),
         ("all on", {"entropy_schedule": "linear", "lr_schedule": "linear", "gae_lambda": 0.9,
                     "normalize_advantages": True}),
         ("updates every 50 steps", {"truncation": 50}),  # updates within an episode (lifetime/truncated.py)
         ("updates every 20 steps", {"truncation": 20}),
         ("weights averaged", {"weight_averaging": 0.05}),  # Polyak averaging (lifetime/averaging.py)
         ("novelty bonus", {"intrinsic": "novelty", "intrinsic_weight": 0.3}),  # lifetime/intrinsic.py
         ("novelty bonus, every 20", {"intrinsic": "novelty", "intrinsic_weight": 0.3, "truncation": 20})]


def knob_costs(batches: list[int], numerics_modes: list[str]) -> None:
    """What each learner knob costs the fused kernel (bandit, wang2016-lstm), relative to all off."""
    spec = "populations/reference.json:wang2016-lstm"
    print(f"{'knobs':26s} {'numerics':13s} " + " ".join(f"{f'B={b} env-steps/s':>20s}" for b in batches))
    for numerics in numerics_modes:
        base: dict[int, float] = {}
        for label, changes in KNOBS:
            cells = []
            for batch in batches:
                rate = _in_fresh_process(batched, spec, changes, "bandit-independent", batch, "auto", numerics)[0]
                base.setdefault(batch, rate)
                cells.append(f"{rate:>12,.0f} ({rate / base[batch]:4.2f})")
            print(f"{label:26s} {numerics:13s} " + " ".join(f"{c:>20s}" for c in cells), flush=True)


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only the suites whose name contains this")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--numerics", nargs="+", default=["reproducible", "native"],
                        choices=["reproducible", "native", "native-cbwr"],
                        help="numerics modes to measure (native-cbwr: native with MKL_CBWR=AVX2)")
    parser.add_argument("--knobs", action="store_true", help="instead: the fused kernel on the bandit with each "
                        "learner knob (lifetime/schedule.py, GAE, advantage normalisation, updates within an "
                        "episode) off, on alone, all on")
    args = parser.parse_args()
    if args.knobs:
        return knob_costs(args.batches, args.numerics)
    from rich.console import Console
    from rich.table import Table

    from evo_fastslow.genome import load_genome

    table = Table(title="lifetime throughput, one core, learning included")
    columns = ("suite", "genome", "approach", "numerics", "env-steps/s", "x naive", "x native", "s per lifetime",
               "env share", "peak MiB")
    for column in columns:
        table.add_column(column, justify="left" if column in ("suite", "genome", "approach", "numerics") else "right")
    for name, suite_name, changes in PAIRS:
        if args.only and args.only not in suite_name:
            continue
        spec, suite = f"populations/reference.json:{name}", suite_name
        label = ", ".join([name, *(f"{gene}={value}" for gene, value in changes.items())])
        rows, naive_rate = [], None
        if load_genome(spec)["episodic_memory"] == "off" and not changes and "@" not in suite_name:
            naive_rate, seconds, peak = _in_fresh_process(naive, spec, suite)  # the naive loop is an LSTM's
            rows.append(("naive: gymnasium env, batch 1", "native", naive_rate, seconds, peak, None))
        for batch in args.batches:
            fits = True
            for kernel in ("auto", "off"):
                for numerics in args.numerics:
                    if kernel == "off" and not fits:
                        break  # the genome does not fit the kernel: "auto" already measured the Python path
                    rate, seconds, peak, used_kernel, share = _in_fresh_process(batched, spec, changes, suite, batch,
                                                                                kernel, numerics)
                    fits = fits and (used_kernel or kernel == "off")
                    path = "gymnasium vector API" if "@gymnasium" in suite_name else "Python path"
                    rows.append((f"{'fused kernel' if used_kernel else path}, B={batch}", numerics, rate, seconds, peak,
                                 share))
        native = {approach: rate for approach, numerics, rate, *_ in rows if numerics == "native"}
        for approach, numerics, rate, seconds, peak, share in rows:
            ratio = f"{rate / naive_rate:.1f}" if naive_rate else "-"
            versus = f"{rate / native[approach]:.2f}" if approach in native and numerics != "native" else "-"
            table.add_row(suite_name, label, approach, numerics, f"{rate:,.0f}", ratio, versus, f"{seconds:,.0f}",
                          "-" if share is None else f"{share:.0%}", f"{peak:,.0f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
