"""Levers that are not genes, probed on an evolved agent before either engine gets them (issue 22).

Building a learner change into both engines with identical bits costs a session; a probe says first
whether it can pay. Each variant runs the genome's lifetime on the same seeds as the unchanged genome
(same initial weights, training tasks and held-out test tasks), so a variant's effect is a paired
difference over seeds, printed with its 95% t interval.

    python studies/learner-probes/learner_probes.py populations/evolved.json:bandit-agent-polyak --seeds 4 \\
        --variant temperature=0.5 temperature=1.25 discount-ramp=0.97 'genes={"truncation": 12}' \\
        'genes={"hidden_size": 128}' ppo-epochs=2

Variants:
- `temperature=T`: the base lifetime's trained agent, tested again at softmax temperature T (its action
  noise scaled by T; 0 is its most probable action) on the same test tasks: no second training;
- `discount-ramp=G`: the discount annealed linearly from the genome's at the first update to G at the last;
- `ppo-epochs=K`: after each truncated stretch's A2C step, K - 1 more steps on the same stretch with
  PPO's clipped surrogate (Schulman et al. 2017, clip 0.2) on the first pass's advantages and returns:
  more updates per env-step. Runs the Python path (a patched `truncated.train_batch`), native numerics;
  `weight_averaging` is multiplied by K so that the average spans the same share of the lifetime;
- `belief=W`: an auxiliary loss, W x the cross-entropy of a linear head on the core's state predicting
  every arm's probability (the task's hidden parameters, known in training only: task inference,
  Humplik et al. 2019), so that the core learns to carry the posterior; trains on the Python path;
- `critic=W`: a privileged (asymmetric) critic, Pinto et al. 2018: the value the learner replays is the
  agent's own plus a tanh MLP (W units, output layer at zero) of the core's state and the arms'
  probabilities, known in training only; Python path, reproducible numerics;
- `task-critic=W`: the same MLP on the arms' probabilities alone;
- `hard-tasks=Q`: with probability Q a training task is a close pair (the first arm as drawn, the others
  within 0.3 of it): the tasks that cost the agent most regret, oversampled; test tasks unchanged;
- `expected-reward=mean|regret`: the loss's rewards are their expectation given the task, the chosen arm's
  probability (minus the best arm's with `regret`), while the core still sees the sampled reward: an
  unbiased policy gradient without the reward noise; Python path, reproducible numerics;
- `genes=JSON`: gene changes (as studies/failures/failures.py's --variant).
Variants joined by `&` combine, e.g. `'critic=64&genes={"discount": 0.97}'`.
The patches live in this file only: they are probes, not the engines' code, and not reproducible bits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from evo_fastslow.statistics import mean_interval
from evo_fastslow.errors import InputError
from evo_fastslow.genome import Genome, load_genome
from evo_fastslow.lifetime import a2c, fused, schedule, truncated
from evo_fastslow.lifetime import run as lifetime
from evo_fastslow.lifetime.a2c import LossParts, Rollout, discount_matrix
from evo_fastslow.lifetime.result import LifetimeResult
from evo_fastslow.suite import load_suite

PPO_CLIP = 0.2


def run_job(spec: str, suite_path: str, seed: int, variant: str, temperatures: list[float],
            test_episodes: int | None = None) -> dict[str, Any]:
    """One lifetime of `variant` (a 'base' lifetime also tests its agent at `temperatures`), tested on the
    suite's test episodes or `test_episodes`. Its patches are undone when it returns, so jobs run in one
    process (a test) do not leak into each other."""
    genome, suite = load_genome(spec), load_suite(suite_path)
    if test_episodes is not None:
        suite = suite.model_copy(update={"test": suite.test.model_copy(update={"episodes": test_episodes})})
    genes, patches = variant_patches(variant, genome)
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    numerics = os.environ.get("EVO_FASTSLOW_NUMERICS")
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        if variant.startswith("ppo-epochs="):
            os.environ["EVO_FASTSLOW_NUMERICS"] = "native"
        agent, result = lifetime.train_and_test(genome.with_genes(**genes), suite, seed)
        out = {variant: result.test_regret, "seconds": result.wall_seconds, "status": result.status}
        for temperature in temperatures:
            out[f"temperature={temperature:g}"] = _retest(agent, suite, seed, temperature)
        return out
    finally:
        for owner, name, value in reversed(originals):
            setattr(owner, name, value)
        if numerics is None:
            os.environ.pop("EVO_FASTSLOW_NUMERICS", None)
        else:
            os.environ["EVO_FASTSLOW_NUMERICS"] = numerics


def variant_patches(variant: str, genome: Genome) -> tuple[dict[str, Any], list[tuple[Any, str, Any]]]:
    """A variant's gene changes and its patches (owner, attribute, new value) of the lifetime's code;
    variants joined by '&' combine (their patches must touch different attributes)."""
    if "&" in variant:
        genes: dict[str, Any] = {}
        patches: list[tuple[Any, str, Any]] = []
        for part in variant.split("&"):
            part_genes, part_patches = variant_patches(part, genome)
            genes, patches = {**genes, **part_genes}, patches + part_patches
        return genes, patches
    kind, _, value = variant.partition("=")
    if kind == "base":
        return {}, []
    if kind == "genes":
        return json.loads(value), []
    if kind == "discount-ramp":
        return {}, [(lifetime, "update_settings", _ramped(float(value)))]
    if kind == "ppo-epochs":
        # K times the optimizer steps: the weight average keeps its span as a fraction of the lifetime
        return ({"weight_averaging": min(0.5, genome["weight_averaging"] * int(value))},
                [(truncated, "train_batch", _ppo_train_batch(int(value)))])
    if kind == "belief":
        return {}, _belief_patches(float(value))
    if kind == "hard-tasks":
        return {}, _hard_task_patches(float(value))
    if kind in ("critic", "task-critic"):
        return {}, _critic_patches(int(value), sees_core=kind == "critic")
    if kind == "expected-reward":
        if value not in ("mean", "regret"):
            raise ValueError(f"expected-reward=mean or expected-reward=regret, not {variant!r}")
        return {}, _expected_reward_patches(value == "regret")
    raise SystemExit(f"unknown variant {variant!r}: base, temperature=T, discount-ramp=G, ppo-epochs=K, belief=W, "
                     "critic=WIDTH, task-critic=WIDTH, hard-tasks=Q, expected-reward=mean|regret, genes=JSON")


def _retest(agent: torch.nn.Module, suite: Any, seed: int, temperature: float) -> float:
    """The trained agent's test regret with its action noise scaled by `temperature` (the same test tasks
    and noise draws as the lifetime's own test), on whichever engine acts for it."""
    original = a2c.gumbel_noise

    def scaled(rng: np.random.Generator, steps: int, batch: int, k: int) -> np.ndarray:
        return original(rng, steps, batch, k) * np.float32(temperature)
    a2c.gumbel_noise = fused.gumbel_noise = scaled
    try:
        result = LifetimeResult(status="ok")
        with torch.no_grad():
            lifetime._test(agent, suite.build_task(), suite, seed, seed, result)
        return result.test_regret
    finally:
        a2c.gumbel_noise = fused.gumbel_noise = original


def _ramped(end: float):
    def settings(genome: Genome, update: int = 0, updates: int = 1) -> schedule.UpdateSettings:
        base = schedule.update_settings(genome, update, updates)
        done = update / max(1, updates - 1)
        return dataclasses.replace(base, discount=base.discount + done * (end - base.discount))
    return settings


class _PPOStretches(truncated._PythonStretches):
    """The Python path's stretches, keeping what PPO's extra epochs on a stretch need."""

    def stretch(self, start: int, stop: int) -> tuple[Rollout, LossParts]:
        first = tuple(s.detach() for s in self.state)
        rollout, loss = super().stretch(start, stop)
        with torch.no_grad():
            x = torch.from_numpy(rollout.inputs)
            logits, values, end = self.agent.replay_from(x, first)
            last = torch.zeros(values.shape[1])
            if stop < len(self.inputs):
                last = self.agent.replay_from(torch.from_numpy(self.inputs[stop:stop + 1]), end)[1][0]
            actions = torch.from_numpy(rollout.actions)
            old = F.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            s, rewards = self.settings, torch.from_numpy(rollout.rewards)
            deltas = rewards + s.discount * torch.cat([values[1:], last.unsqueeze(0)]) - values
            advantage = discount_matrix(len(deltas), s.discount * s.gae_lambda) @ deltas
            returns = advantage + values
            if s.normalize_advantages:
                advantage = (advantage - advantage.mean()) / (advantage.std(unbiased=False) + 1e-8)
        self.kept = (x, first, actions, old, advantage, returns)
        return rollout, loss

    def more_epochs(self, optimizer: Any, epochs: int) -> None:
        x, first, actions, old, advantage, returns = self.kept
        for _ in range(epochs - 1):
            logits, values, _ = self.agent.replay_from(x, first)
            log_probs = F.log_softmax(logits, -1)
            ratio = (log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1) - old).exp()
            policy = -torch.min(ratio * advantage, ratio.clamp(1 - PPO_CLIP, 1 + PPO_CLIP) * advantage).mean()
            entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
            total = policy + self.settings.value_cost * 0.5 * (returns - values).pow(2).mean() \
                - self.settings.entropy_cost * entropy
            self.agent.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()


def _ppo_train_batch(epochs: int):
    def train_batch(agent, task, episodes, genome, batch, rng, optimizer, settings, use_kernel):
        actions, rewards = np.empty((task.steps, batch), np.int64), np.empty((task.steps, batch), np.float32)
        play, parts, norms = _PPOStretches(agent, task, episodes, batch, rng, settings), [], []
        for start, stop in truncated.stretches(task.steps, genome["truncation"]):
            rollout, loss = play.stretch(start, stop)
            actions[start:stop], rewards[start:stop] = rollout.actions, rollout.rewards
            if not torch.isfinite(loss.total).item():
                return Rollout(None, actions, rewards), loss, float("nan")
            norms.append(optimizer.step())
            play.more_epochs(optimizer, epochs)
            parts.append((loss.total.item(), loss.policy, loss.value, loss.entropy))
        total, policy, value, entropy = np.mean(parts, axis=0).tolist()
        means = LossParts(torch.tensor(total), policy, value, entropy)
        return Rollout(None, actions, rewards), means, float(np.mean(norms))
    return train_batch


class _BeliefStretches(truncated._PythonStretches):
    """The Python path's stretches, keeping the core's states of the learning pass for the belief head."""

    def __init__(self, agent: Any, task: Any, episodes: Any, batch: int, rng: np.random.Generator,
                 settings: schedule.UpdateSettings, genome: Genome | None = None):
        super().__init__(agent, task, episodes, batch, rng, settings, genome)
        _BeliefStretches.current = self
        self.targets, self.states = torch.from_numpy(np.asarray(episodes.probs, np.float32)), None

        def replay_from(x: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
            h, end = agent.core.replay_from(agent.core_inputs(x), state)
            if torch.is_grad_enabled():
                self.states = h
            return (*agent.heads(h, x), end)
        agent.replay_from = replay_from


def _belief_patches(weight: float) -> list[tuple[Any, str, Any]]:
    """A zero-initialised belief head on every agent, the Python path, and the loss plus `weight` x the
    head's cross-entropy against the arms' probabilities."""
    build, loss_of = lifetime.initial_agent, truncated.loss_of

    def initial_agent(genome: Genome, task: Any, seed: int) -> Any:
        agent = build(genome, task, seed)
        agent.belief = torch.nn.Linear(agent.core.hidden_size, task.n_actions)
        torch.nn.init.zeros_(agent.belief.weight), torch.nn.init.zeros_(agent.belief.bias)
        return agent

    def loss_with_belief(logits, values, rollout, discounts, settings, bootstrap=None) -> LossParts:
        parts, play = loss_of(logits, values, rollout, discounts, settings, bootstrap), _BeliefStretches.current
        predicted = play.agent.belief(play.states)
        belief = F.binary_cross_entropy_with_logits(predicted, play.targets.expand_as(predicted))
        return LossParts(parts.total + weight * belief, parts.policy, parts.value, parts.entropy)

    return [(lifetime, "initial_agent", initial_agent), (lifetime, "trains_fused", lambda agent, task, genome: False),
            (truncated, "_PythonStretches", _BeliefStretches), (truncated, "loss_of", loss_with_belief)]


class _PrivilegedCritic(torch.nn.Module):
    """V(h, p) = the agent's own value head + a tanh MLP of [h, the arms' probabilities] (of p alone
    unless `sees_core`) whose output layer starts at zero: the lifetime starts as the unchanged agent's."""

    def __init__(self, hidden: int, arms: int, width: int, sees_core: bool):
        super().__init__()
        self.sees_core = sees_core
        self.inner = torch.nn.Linear((hidden if sees_core else 0) + arms, width)
        self.out = torch.nn.Linear(width, 1)
        torch.nn.init.zeros_(self.out.weight), torch.nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        probs = probs.expand(*h.shape[:-1], probs.shape[-1])
        both = torch.cat([h, probs], dim=-1) if self.sees_core else probs
        return self.out(torch.tanh(self.inner(both))).squeeze(-1)


class _CriticStretches(truncated._PythonStretches):
    """The Python path's stretches with the privileged critic added to the values they replay (the
    bootstrap's included); acting and testing never read a value."""

    def __init__(self, agent: Any, task: Any, episodes: Any, batch: int, rng: np.random.Generator,
                 settings: schedule.UpdateSettings, genome: Genome | None = None):
        super().__init__(agent, task, episodes, batch, rng, settings, genome)
        probs = torch.from_numpy(np.asarray(episodes.probs, np.float32))

        def replay_from(x: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
            h, end = agent.core.replay_from(agent.core_inputs(x), state)
            logits, values = agent.heads(h, x)
            return logits, values + agent.critic(h, probs), end
        agent.replay_from = replay_from


def _critic_patches(width: int, sees_core: bool) -> list[tuple[Any, str, Any]]:
    """An asymmetric actor-critic (Pinto et al. 2018): the critic sees the task's hidden parameters in
    training, so the advantages lose the variance of the task draw the core cannot yet infer."""
    build = lifetime.initial_agent

    def initial_agent(genome: Genome, task: Any, seed: int) -> Any:
        agent = build(genome, task, seed)
        torch.manual_seed(seed)
        agent.critic = _PrivilegedCritic(agent.core.hidden_size, task.n_actions, width, sees_core)
        return agent

    return [(lifetime, "initial_agent", initial_agent), (lifetime, "trains_fused", lambda agent, task, genome: False),
            (truncated, "_PythonStretches", _CriticStretches)]


class _ExpectedRewardStretches(truncated._PythonStretches):
    """The Python path's stretches with the loss's rewards replaced by their expectation given the task
    (`Episodes.expected_rewards`), minus the oracle's per step with `regret`. The core still sees the
    sampled reward."""

    regret = False

    def stretch(self, start: int, stop: int) -> tuple[Rollout, LossParts]:
        original, episodes = truncated.loss_of, self.episodes
        best = episodes.oracle_reward() / len(self.inputs) if self.regret else 0.0

        def loss_of(logits: Any, values: Any, rollout: Rollout, *rest: Any) -> LossParts:
            expected = episodes.expected_rewards(rollout.actions) - best
            return original(logits, values, dataclasses.replace(rollout, rewards=expected.astype(np.float32)), *rest)
        truncated.loss_of = loss_of
        try:
            return super().stretch(start, stop)
        finally:
            truncated.loss_of = original


def _expected_reward_patches(regret: bool) -> list[tuple[Any, str, Any]]:
    """Rao-Blackwellised returns: E[r_t | task, a_t] = p(a_t) replaces the Bernoulli draw in the loss, and
    `regret` subtracts the best arm's p, a function of the task alone (no action's), so the policy gradient
    stays unbiased while the returns lose the reward noise and the task draw's level. Training only: the
    tasks' probabilities are hidden at test. Python path (truncated lifetimes), reproducible numerics."""
    stretches = type("_Stretches", (_ExpectedRewardStretches,), {"regret": regret})
    return [(lifetime, "trains_fused", lambda agent, task, genome: False), (truncated, "_PythonStretches", stretches)]


def _hard_task_patches(share: float) -> list[tuple[Any, str, Any]]:
    """Training tasks (not test tasks) of which `share` are close: the first arm's probability as drawn,
    every other arm's within 0.3 of it (clipped to [0, 1]), where the regret breakdown puts the agents' gap;
    the rest as the suite draws them. The extra draws come from a generator of their own, so the task and
    action streams stay the base lifetime's (share 0 is the base lifetime). Independent arms only."""
    from evo_fastslow.tasks.bandit import BanditTask

    train, uniform = lifetime._train, BanditTask.sample_probs

    def train_on_hard_tasks(agent: Any, task: Any, genome: Genome, budget: int, seed: int, *rest: Any) -> None:
        extra = np.random.default_rng([seed, 22])

        def sample_probs(task: BanditTask, batch: int, rng: np.random.Generator) -> np.ndarray:
            probs = uniform(task, batch, rng)
            close = np.clip(probs[:, :1] + 0.6 * (extra.random(probs.shape, dtype=np.float32) - 0.5), 0.0, 1.0)
            close[:, 0] = probs[:, 0]
            return np.where(extra.random((batch, 1)) < share, close, probs).astype(np.float32)

        BanditTask.sample_probs = sample_probs
        try:
            train(agent, task, genome, budget, seed, *rest)
        finally:
            BanditTask.sample_probs = uniform

    return [(lifetime, "_train", train_on_hard_tasks)]


def _result(future: Any, job: tuple[str, int]) -> dict[str, Any]:
    """A job's figures, printed as it ends (a long probe shows its progress); a job that raised is
    recorded with its reason, and the others' figures still print."""
    try:
        figures = future.result()
    except Exception as error:  # noqa: BLE001 - any failure of one lifetime is that job's, not the probe's
        figures = {"status": f"failed: {type(error).__name__}: {error}", "seconds": float("nan")}
    print(f"done: {job[0]} seed {job[1]}: {figures.get(job[0], figures['status'])}", file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("genome", help="a genome file spec FILE:NAME")
    parser.add_argument("--suite", default="fitness/bandit-independent.yaml")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=101, help="lifetime seeds first-seed, first-seed + 1, ...")
    parser.add_argument("--variant", nargs="+", default=[])
    parser.add_argument("--test-episodes", type=int, default=None,
                        help="test every lifetime on this many episodes instead of the suite's: at 2,000 the test "
                             "set's noise is most of the spread between seeds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="a JSON file for every lifetime's figures")
    args = parser.parse_args()
    try:  # the genome, suite and every variant read before any lifetime starts: a typo costs nothing
        genome, _ = load_genome(args.genome), load_suite(args.suite)
        temperatures = [float(v.partition("=")[2]) for v in args.variant if v.startswith("temperature=")]
        for variant in args.variant:
            if not variant.startswith("temperature="):
                genome.with_genes(**variant_patches(variant, genome)[0])
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(str(error) if isinstance(error, InputError) else f"--variant: {error}") from None
    trained = ["base"] + [v for v in args.variant if not v.startswith("temperature=")]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(v, s) for v in trained for s in seeds]
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:  # a fresh process per patched job
        futures = [pool.submit(run_job, args.genome, args.suite, s, v, temperatures if v == "base" else [],
                               args.test_episodes)
                   for v, s in jobs]
        results = [_result(future, job) for future, job in zip(futures, jobs)]
    regret: dict[str, dict[int, float]] = {}
    for (variant, seed), figures in zip(jobs, results):
        for name, value in figures.items():
            if name not in ("seconds", "status"):
                regret.setdefault(name, {})[seed] = value
        if figures["status"].startswith("failed"):
            regret.setdefault(variant, {})[seed] = float("nan")
    print(f"{args.genome} on {args.suite}: test regret per lifetime seed; difference from base paired by seed, "
          f"mean [95% t interval]")
    for name, by_seed in regret.items():
        row = " ".join(f"{by_seed[s]:6.3f}" for s in seeds)
        line = f"{name:28s} {row}"
        if name != "base":
            difference = mean_interval([by_seed[s] - regret["base"][s] for s in seeds])
            line += f"   {difference.mean:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}]"
        print(line, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"jobs": [list(j) for j in jobs], "results": results}, indent=1))


if __name__ == "__main__":
    main()
