"""Slow learning: batched advantage actor-critic over whole episodes.

One update = B episodes played in parallel (the acting pass, no autograd), then replayed through the
core in one call (the learning pass) to get log-probabilities and values with gradients. Returns are
the discounted sums of the episode's remaining rewards (n-step up to the episode's end, no bootstrap
past it), advantages are returns minus the value baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from evo_fastslow.agents import Agent
from evo_fastslow.genome import Genome
from evo_fastslow.tasks import Episodes, Task


@dataclass
class Rollout:
    inputs: torch.Tensor   # [T, B, I] what the core saw at each trial
    actions: torch.Tensor  # [T, B]
    rewards: torch.Tensor  # [T, B]


@torch.no_grad()
def act(agent: Agent, task: Task, episodes: Episodes, batch: int, generator: torch.Generator) -> Rollout:
    """Play B episodes; actions are sampled by Gumbel-max on noise drawn once for the episode."""
    trials = task.trials
    inputs = torch.zeros(trials, batch, agent.input_size)
    actions = torch.empty(trials, batch, dtype=torch.long)
    rewards = torch.empty(trials, batch)
    uniform = torch.rand(trials, batch, task.n_actions, generator=generator)
    gumbel = -torch.log(-torch.log(uniform))  # [T, B, k]
    agent.write_inputs(inputs[0], episodes.first_obs, None, None)
    state = agent.initial_state(batch)
    for t in range(trials):
        logits, state = agent.step(inputs[t], state)
        action = torch.argmax(logits.add_(gumbel[t]), dim=1)
        reward, obs = episodes.step(t, action)
        actions[t], rewards[t] = action, reward
        if t + 1 < trials:
            agent.write_inputs(inputs[t + 1], obs, action, reward)
    return Rollout(inputs, actions, rewards)


def discount_matrix(trials: int, discount: float) -> torch.Tensor:
    """M [T, T] with M[t, s] = discount^(s - t) for s >= t: returns = M @ rewards."""
    idx = torch.arange(trials, dtype=torch.float64)
    power = idx.view(1, -1) - idx.view(-1, 1)
    return torch.where(power >= 0, discount ** power.clamp_min(0), 0.0).to(torch.float32)


@dataclass
class LossParts:
    total: torch.Tensor
    policy: float
    value: float
    entropy: float


def a2c_loss(agent: Agent, rollout: Rollout, genome: Genome, discounts: torch.Tensor) -> LossParts:
    """Actor-critic loss of a rollout, averaged over trials and episodes."""
    batch = rollout.actions.shape[1]
    logits, values = agent.replay(rollout.inputs, agent.initial_state(batch))  # [T, B, k], [T, B]
    log_probs = F.log_softmax(logits, dim=-1)
    taken = log_probs.gather(-1, rollout.actions.unsqueeze(-1)).squeeze(-1)  # [T, B]
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
    returns = discounts @ rollout.rewards  # [T, B]
    advantage = returns - values.detach()
    policy_loss = -(taken * advantage).mean()
    value_loss = 0.5 * (returns - values).pow(2).mean()
    total = policy_loss + genome["value_cost"] * value_loss - genome["entropy_cost"] * entropy
    return LossParts(total, policy_loss.item(), value_loss.item(), entropy.item())


def make_optimizer(agent: Agent, genome: Genome) -> torch.optim.Optimizer:
    if genome["optimizer"] == "adam":
        return torch.optim.Adam(agent.parameters(), lr=genome["learning_rate"])
    return torch.optim.RMSprop(agent.parameters(), lr=genome["learning_rate"], alpha=0.99, eps=1e-5)
