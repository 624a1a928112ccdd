"""The agent a genome builds: input encoding (observation + meta-RL inputs), core, policy and value heads.

Input layout per trial, [obs (obs_dim) | one-hot previous action (k) | previous reward (1)]; the
previous-step parts are present as the `meta_inputs` gene says (none | reward | action_reward) and
are zero on the first trial of an episode.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from evo_fastslow.agents.acting import _np
from evo_fastslow.agents.cores import CORES, State
from evo_fastslow.genome import Genome


class Agent(nn.Module):
    def __init__(self, genome: Genome, obs_dim: int, n_actions: int):
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        meta = genome["meta_inputs"]
        self.sees_action = meta == "action_reward"
        self.sees_reward = meta in ("reward", "action_reward")
        self.input_size = obs_dim + (n_actions if self.sees_action else 0) + (1 if self.sees_reward else 0)
        hidden = genome["hidden_size"]
        self.core = CORES[genome["core"]](self.input_size, hidden)
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def initial_state(self, batch: int) -> State:
        return self.core.initial_state(batch)

    def actor(self) -> "Actor":
        """A NumPy snapshot of the current weights for the acting pass."""
        return Actor(self)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Acting pass: policy logits [B, k] for one trial."""
        h, state = self.core.step(x, state)
        return torch.addmm(self.policy.bias, h, self.policy.weight.t()), state

    def replay(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """Learning pass over a recorded episode x [T, B, I]: logits [T, B, k] and values [T, B]."""
        h = self.core.replay(x, state)
        return self.policy(h), self.value(h).squeeze(-1)


def build_agent(genome: Genome, obs_dim: int, n_actions: int, seed: int) -> Agent:
    """Build with weights initialised from `seed` alone; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Agent(genome, obs_dim, n_actions)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class Actor:
    """The acting pass of an Agent in NumPy: builds each trial's inputs and returns policy logits."""

    def __init__(self, agent: Agent):
        self.core = agent.core.actor()
        self.w_policy, self.b_policy = _np(agent.policy.weight).T.copy(), _np(agent.policy.bias)
        self.obs_dim, self.input_size = agent.obs_dim, agent.input_size
        self.sees_action, self.sees_reward = agent.sees_action, agent.sees_reward

    def initial_state(self, batch: int) -> tuple[np.ndarray, ...]:
        return self.core.initial_state(batch)

    def write_inputs(self, x: np.ndarray, obs: np.ndarray, action: np.ndarray | None,
                     reward: np.ndarray | None, rows: np.ndarray) -> None:
        """Fill one trial's input row x [B, I] in place (x must start zeroed); rows = arange(B)."""
        x[:, :self.obs_dim] = obs
        if self.sees_action and action is not None:
            x[rows, self.obs_dim + action] = 1.0
        if self.sees_reward and reward is not None:
            x[:, -1] = reward

    def step(self, x: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
        h, state = self.core.step(x, state)
        logits = h @ self.w_policy
        logits += self.b_policy
        return logits, state
