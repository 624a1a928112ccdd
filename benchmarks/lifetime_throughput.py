"""Lifetime throughput: env-steps/s with learning included, one core, side by side with the naive way.

The naive way is what most meta-RL code does: one Gymnasium env stepped one episode at a time
(batch 1), an LSTMCell and a torch.distributions.Categorical per step, autograd through the rollout,
an A2C update per episode. The batched lifetime is `run_lifetime` itself. Each configuration runs
in a fresh process (so peak memory is its own), one after the other, on one thread.

    python benchmarks/lifetime_throughput.py [--genome FILE:NAME] [--suite FILE] [--batches 16 64 256]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from concurrent.futures import ProcessPoolExecutor

UPDATES = 40             # gradient updates per batched measurement
NAIVE_EPISODES = 60      # episodes (= updates) of the naive loop


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batched(genome_spec: str, suite_path: str, batch: int) -> tuple[float, float, float]:
    """(env-steps/s, seconds per lifetime of the suite's budget, peak MiB) of run_lifetime at batch B."""
    import torch

    from evo_fastslow.genome import load_genome
    from evo_fastslow.lifetime import run_lifetime
    from evo_fastslow.suite import load_suite

    torch.set_num_threads(1)
    genome = load_genome(genome_spec).with_genes(episodes_per_update=batch)
    suite = load_suite(suite_path)
    budget = suite.lifetime.train_env_steps
    trials = suite.build_task().steps
    short = suite.model_copy(update={
        "lifetime": suite.lifetime.model_copy(update={"train_env_steps": UPDATES * batch * trials}),
        "test": suite.test.model_copy(update={"episodes": 1})})
    run_lifetime(genome.with_genes(), short.model_copy(update={"lifetime": short.lifetime.model_copy(
        update={"train_env_steps": 2 * batch * trials})}), seed=1)  # warm-up
    start = time.perf_counter()
    result = run_lifetime(genome, short, seed=0)
    rate = result.env_steps / (time.perf_counter() - start)
    return rate, budget / rate, _peak_mib()


def naive(genome_spec: str, suite_path: str) -> tuple[float, float, float]:
    """The same A2C-LSTM written the usual way: a Gymnasium env, batch 1, per-step distributions."""
    import gymnasium as gym
    import torch
    from torch import nn

    from evo_fastslow.genome import load_genome
    from evo_fastslow.suite import load_suite
    from evo_fastslow.tasks import GYM_IDS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    genome, suite = load_genome(genome_spec), load_suite(suite_path)
    task = suite.build_task()
    env = gym.make(GYM_IDS[task.kind], **task.gym_kwargs())
    k, hidden = task.n_actions, genome["hidden_size"]
    cell, policy, value = nn.LSTMCell(task.obs_dim + k + 1, hidden), nn.Linear(hidden, k), nn.Linear(hidden, 1)
    params = [*cell.parameters(), *policy.parameters(), *value.parameters()]
    optimizer = torch.optim.Adam(params, lr=genome["learning_rate"])
    steps, start = 0, time.perf_counter()
    for episode in range(NAIVE_EPISODES):
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


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome", default="populations/reference.json:wang2016-lstm")
    parser.add_argument("--suite", default="fitness/bandit-independent.yaml")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64, 256])
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    rows = [("naive: gymnasium env, batch 1", *_in_fresh_process(naive, args.genome, args.suite))]
    for batch in args.batches:
        rows.append((f"batched lifetime, B={batch}", *_in_fresh_process(batched, args.genome, args.suite, batch)))
    table = Table(title=f"lifetime throughput, one core: {args.genome} on {args.suite}")
    for column in ("approach", "env-steps/s", "x naive", "s per lifetime", "peak MiB"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    base = rows[0][1]
    for name, rate, seconds, peak in rows:
        table.add_row(name, f"{rate:,.0f}", f"{rate / base:.1f}", f"{seconds:,.0f}", f"{peak:,.0f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
