"""Slow learning: batched advantage actor-critic over whole episodes.

One update = B episodes played in parallel (the acting pass, no autograd), then replayed through the
core in one call (the learning pass) to get log-probabilities and values with gradients. Returns are
the discounted sums of the episode's remaining rewards (n-step up to the episode's end, no bootstrap
past it), advantages are returns minus the value baseline, or GAE(lambda) where the genome asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from evo_fastslow.agents import Agent
from evo_fastslow.agents.memory import EpisodicStore
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime.schedule import UpdateSettings, update_settings
from evo_fastslow.numerics import ops, reproducible
from evo_fastslow.tasks import Episodes, Task


@dataclass
class Rollout:
    inputs: np.ndarray | None  # [T, B, I] float32, what the core saw at each step (None from the fused path)
    actions: np.ndarray  # [T, B] int64
    rewards: np.ndarray  # [T, B] float32
    reinstated: np.ndarray | None = None  # [T, B, H] cell states an epLSTM retrieved, if it has one


def act(agent: Agent, task: Task, episodes: Episodes, batch: int, rng: np.random.Generator,
        memory: EpisodicStore | None = None) -> Rollout:
    """Play B episodes (NumPy, no autograd); actions are sampled by Gumbel-max on noise drawn at once.

    `memory` (the agent's episodic store, kept by the caller across episodes) is read at every step
    and written as the genome says; its reads are recorded so that the learning pass can replay them."""
    steps, actor, rows = task.steps, agent.actor(), np.arange(batch)
    inputs = np.zeros((steps, batch, agent.input_size), np.float32)
    actions = np.empty((steps, batch), np.int64)
    rewards = np.empty((steps, batch), np.float32)
    reinstated = np.zeros((steps, batch, agent.core.hidden_size), np.float32) if agent.episodic_lstm else None
    keys = np.empty((steps, batch, agent.key_size), np.float32) if memory is not None else None
    write_every_step = memory is not None and agent.memory_genes["memory_write"] == "every_step"
    gumbel = gumbel_noise(rng, steps, batch, task.n_actions)
    actor.write_inputs(inputs[0], episodes.first_obs, None, None, rows)
    state = actor.initial_state(batch)
    for t in range(steps):
        x, retrieved = inputs[t], None
        if memory is not None:
            keys[t] = actor.key(x[:, :agent.obs_dim])
            retrieved = actor.read_memory(memory, keys[t], x)
            if reinstated is not None:
                reinstated[t] = retrieved
        logits, state, h = actor.step(x, state, retrieved)
        logits += gumbel[t]
        action = logits.argmax(axis=1)
        reward, obs = episodes.step(t, action)
        actions[t], rewards[t] = action, reward
        if write_every_step:
            actor.write_step(memory, keys, actions, rewards, state, h, x, t)
        if t + 1 < steps:
            actor.write_inputs(inputs[t + 1], obs, action, reward, rows)
    if memory is not None:
        actor.write_episode_end(memory, keys, actions, rewards, state, h)
    return Rollout(inputs, actions, rewards, reinstated)


def gumbel_noise(rng: np.random.Generator, steps: int, batch: int, k: int) -> np.ndarray:
    """Gumbel(0, 1) noise [T, B, k]: argmax(logits + noise) samples softmax(logits), one draw per update."""
    return ops.gumbel(rng.random((steps, batch, k), dtype=np.float32))


@lru_cache(maxsize=16)
def discount_matrix(steps: int, discount: float) -> torch.Tensor:
    """M [T, T] with M[t, s] = discount^(s - t) for s >= t: returns = M @ rewards. Cached (read only): GAE
    asks for M at gamma x lambda on every update of a lifetime."""
    idx = torch.arange(steps, dtype=torch.float64)
    power = idx.view(1, -1) - idx.view(-1, 1)
    return torch.where(power >= 0, discount ** power.clamp_min(0), 0.0).to(torch.float32)


@dataclass
class LossParts:
    total: torch.Tensor
    policy: float
    value: float
    entropy: float


def a2c_loss(agent: Agent, rollout: Rollout, genome: Genome, discounts: torch.Tensor,
             settings: UpdateSettings | None = None) -> LossParts:
    """Actor-critic loss of a rollout, averaged over steps and episodes. `settings`: this update's
    (lifetime/schedule.py); by default the genome's at the first update."""
    settings = settings or update_settings(genome)
    batch = rollout.actions.shape[1]
    inputs = torch.from_numpy(rollout.inputs)
    reinstated = None if rollout.reinstated is None else torch.from_numpy(rollout.reinstated)
    logits, values = agent.replay(inputs, agent.initial_state(batch), reinstated)  # [T, B, k], [T, B]
    return loss_of(logits, values, rollout, discounts, settings)


def loss_of(logits: torch.Tensor, values: torch.Tensor, rollout: Rollout, discounts: torch.Tensor,
            settings: UpdateSettings, bootstrap: torch.Tensor | None = None) -> LossParts:
    """The loss of replayed heads (logits [T, B, k], values [T, B]); `bootstrap` [B] (a constant): the value
    past the last step where the rollout stops before its episodes end (lifetime/truncated.py)."""
    if reproducible():  # the fused kernel's own loss code (numerics/ops.cpp)
        heads = torch.cat([logits, values.unsqueeze(-1)], dim=-1)
        return LossParts(*ops.a2c_loss(heads, rollout.actions, rollout.rewards, settings.discount,
                                       settings.value_cost, settings.entropy_cost, settings.gae_lambda,
                                       settings.normalize_advantages, bootstrap))
    actions, rewards = torch.from_numpy(rollout.actions), torch.from_numpy(rollout.rewards)
    log_probs = F.log_softmax(logits, dim=-1)
    taken = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [T, B]
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
    last = torch.zeros(rewards.shape[1]) if bootstrap is None else bootstrap.detach()
    returns = discounts @ rewards  # [T, B]
    if bootstrap is not None:  # + gamma^(T - t) V(s_T)
        returns = returns + discounts[:, -1:] * settings.discount * last
    advantage = returns - values.detach()
    if settings.gae_lambda < 1.0:  # GAE: advantages are (gamma lambda)-discounted sums of TD errors
        value = values.detach()
        deltas = rewards + settings.discount * torch.cat([value[1:], last.unsqueeze(0)]) - value
        advantage = discount_matrix(len(deltas), settings.discount * settings.gae_lambda) @ deltas
        returns = advantage + value
    if settings.normalize_advantages:
        advantage = (advantage - advantage.mean()) / (advantage.std(unbiased=False) + 1e-8)
    policy_loss = -(taken * advantage).mean()
    value_loss = 0.5 * (returns - values).pow(2).mean()
    total = policy_loss + settings.value_cost * value_loss - settings.entropy_cost * entropy
    return LossParts(total, policy_loss.item(), value_loss.item(), entropy.item())


def make_optimizer(agent: Agent, genome: Genome) -> ops.Optimizer:
    """Gradient clipping to `grad_clip`, then the genome's optimizer, in the numerics mode."""
    return ops.Optimizer(list(agent.parameters()), genome["optimizer"], genome["learning_rate"], genome["grad_clip"])
