"""The batched task contract: B episodes stepped at once as arrays; a rollout is [T, B, ...].

Tasks and the acting pass work on NumPy arrays: at these sizes (tens of episodes, a few arms) a
NumPy op costs about a microsecond against several for a torch dispatch, and the acting pass is a
Python loop over trials. Only the learning pass (one replay of the whole episode) is torch.

A task is a frozen pydantic model (its fields are the suite's `task.params`, validated). Every task
has a fixed number of trials per episode, so the B episodes of a batch start and end together.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict


class Episodes(Protocol):
    """B sampled episodes: the hidden task parameters and their pre-drawn noise."""

    first_obs: np.ndarray  # [B, obs_dim] float32

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reward [B] of `actions` [B] at trial t, and the observation [B, obs_dim] of trial t+1."""

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        """Expected reward [T, B] of the actions [T, B] taken (for regret: no sampling noise)."""

    def oracle_reward(self) -> np.ndarray:
        """Expected episode reward [B] of a policy that knows the hidden task parameters."""

    def random_reward(self) -> np.ndarray:
        """Expected episode reward [B] of the uniformly random policy."""


class Task(BaseModel):
    """Base of every batched task distribution; subclasses add their parameters as fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str]
    trials: int

    @property
    def obs_dim(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def n_actions(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def sample(self, batch: int, rng: np.random.Generator) -> Episodes:  # pragma: no cover
        raise NotImplementedError

    def baselines(self) -> dict[str, Callable[[], "Policy"]]:  # pragma: no cover
        raise NotImplementedError

    def gym_kwargs(self) -> dict:
        """Keyword arguments of this task's registered Gymnasium env."""
        return self.model_dump()


class Policy(Protocol):
    """A reference policy run on the same batched episodes as the agent."""

    def reset(self, episodes: Episodes, batch: int, seed: int) -> None: ...

    def act(self, t: int) -> np.ndarray: ...

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None: ...


def run_policy(task: Task, episodes: Episodes, batch: int, policy: Policy, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Play `policy` on `episodes`; returns actions [T, B] and rewards [T, B]."""
    policy.reset(episodes, batch, seed)
    actions = np.empty((task.trials, batch), dtype=np.int64)
    rewards = np.empty((task.trials, batch), dtype=np.float32)
    for t in range(task.trials):
        actions[t] = policy.act(t)
        rewards[t], _ = episodes.step(t, actions[t])
        policy.observe(t, actions[t], rewards[t])
    return actions, rewards
