"""The batched task contract: B episodes stepped at once as arrays; a rollout is [T, B, ...].

Tasks and the acting pass work on NumPy arrays: at these sizes (tens of episodes, a few arms) a
NumPy op costs about a microsecond against several for a torch dispatch, and the acting pass is a
Python loop over trials. Only the learning pass (one replay of the whole episode) is torch.

A task is a frozen pydantic model (its fields are the suite's `task.params`, validated). Every task
has a fixed number of trials per episode, so the B episodes of a batch start and end together.
"""

from __future__ import annotations

from typing import Callable, ClassVar, NamedTuple, Protocol

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

    # Episodes of a task with `tabular = True` also have tables() -> Tables, so that a compiled acting
    # loop (lifetime/fused.py) needs no call back into Python per trial.


class Tables(NamedTuple):
    """An episode batch's dynamics, pre-drawn, over a few states (the first is state 0): at step t in
    state s, the observation is obs[t, b, s]; action a earns reward[t, b, s, a] and leads to
    next_state[t, b, s, a]. A task whose observations never depend on the actions has one state."""

    obs: np.ndarray         # [T, B, S, obs_dim] float32
    reward: np.ndarray      # [T, B, S, k] float32
    next_state: np.ndarray  # [T, B, S, k] int64

    @classmethod
    def open_loop(cls, obs: np.ndarray, reward: np.ndarray) -> "Tables":
        """One state: observations [T, B, obs_dim], the reward every action would get [T, B, k]."""
        # contiguous and writable (a broadcast observation is neither): torch.from_numpy takes them as they are
        return cls(np.require(obs[:, :, None], requirements="CW"), np.require(reward[:, :, None], requirements="CW"),
                   np.zeros(reward.shape[:2] + (1, reward.shape[2]), np.int64))


class KnownArms:
    """Episodes whose arms have expected rewards `arm_values` [B, k], fixed for the episode, over
    `noise.shape[0]` trials: regret, oracle and random follow from them."""

    arm_values: np.ndarray  # [B, k]
    noise: np.ndarray       # [T, B]

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self.arm_values.T, actions, axis=0)  # [T, B]

    def oracle_reward(self) -> np.ndarray:
        return self.arm_values.max(axis=1) * self.noise.shape[0]

    def random_reward(self) -> np.ndarray:
        return self.arm_values.mean(axis=1) * self.noise.shape[0]


class BernoulliArms:
    """Episodes whose observations `_obs` [T + 1, B, obs_dim] do not depend on the actions and whose
    reward is noise[t, b] < probs[b, action] (bandits)."""

    _obs: np.ndarray    # [T + 1, B, obs_dim] float32
    probs: np.ndarray   # [B, k]
    noise: np.ndarray   # [T, B]

    def tables(self) -> Tables:
        rewards = (self.noise[:, :, None] < self.probs[None]).astype(np.float32)  # [T, B, k], as step()
        return Tables.open_loop(self._obs[:self.noise.shape[0]], rewards)


class Task(BaseModel):
    """Base of every batched task distribution; subclasses add their parameters as fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str]
    tabular: ClassVar[bool] = False  # its episodes give their dynamics as Tables (a compiled loop can run them)
    has_oracle: ClassVar[bool] = True  # its episodes know the best expected reward (normalised score, regret)
    reward_range: ClassVar[tuple[float, float]] = (-float("inf"), float("inf"))  # every reward step() gives
    trials: int

    @property
    def steps(self) -> int:
        """Env steps per episode (T of the rollouts): the trials, unless a trial takes several steps."""
        return self.trials

    @property
    def obs_dim(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def n_actions(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the image at the start of the observation, a conv encoder's input;
        a task without an image shows its observation as one row of one channel."""
        return 1, 1, self.obs_dim

    def sample(self, batch: int, rng: np.random.Generator) -> Episodes:  # pragma: no cover
        raise NotImplementedError

    def baselines(self) -> dict[str, Callable[[], "Policy"]]:  # pragma: no cover
        raise NotImplementedError

    def streams(self, batch: int, rng: np.random.Generator) -> "Streams":
        """B parallel streams of episodes. Most tasks draw each episode afresh; a task whose episodes
        recur (recurring contextual bandits) keeps per-stream state here, across a lifetime's episodes."""
        return FreshStreams(self, batch)

    def analyse(self, rollouts: list[tuple["Episodes", np.ndarray, np.ndarray]]) -> dict:
        """Task-specific figures of test rollouts [(episodes, actions [T, B], rewards [T, B]), ...]."""
        return {}

    def gym_kwargs(self) -> dict:
        """Keyword arguments of this task's registered Gymnasium env."""
        return self.model_dump()


class Streams(Protocol):
    def next(self, rng: np.random.Generator) -> Episodes:
        """The next episode of every stream, as one batch."""


class FreshStreams:
    """Every episode drawn independently of the ones before."""

    def __init__(self, task: Task, batch: int):
        self.task, self.batch = task, batch

    def next(self, rng: np.random.Generator) -> Episodes:
        return self.task.sample(self.batch, rng)


class Policy(Protocol):
    """A reference policy run on the same batched episodes as the agent."""

    def reset(self, episodes: Episodes, batch: int, seed: int) -> None: ...

    def act(self, t: int) -> np.ndarray: ...

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None: ...


def run_policy(task: Task, episodes: Episodes, batch: int, policy: Policy, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Play `policy` on `episodes`; returns actions [T, B] and rewards [T, B]."""
    policy.reset(episodes, batch, seed)
    actions = np.empty((task.steps, batch), dtype=np.int64)
    rewards = np.empty((task.steps, batch), dtype=np.float32)
    for t in range(task.steps):
        actions[t] = policy.act(t)
        rewards[t], _ = episodes.step(t, actions[t])
        policy.observe(t, actions[t], rewards[t])
    return actions, rewards
