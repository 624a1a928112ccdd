"""Recurring contextual bandits (after Ritter et al. 2018, "Been There, Done That").

Each episode shows a context (a random Gaussian vector, so that no two contexts coincide) for all its trials; the context is tied to a
bandit in which one arm pays with `good_probability` and the others with `bad_probability`. Each
stream (one parallel learner) has a fixed pool of contexts: an episode's context comes from the pool
with `recur_probability`, otherwise it is new. A pool context met before in the stream is
`recurring`: an agent that remembers what it learned there can exploit from the first trial. The
pools live as long as the streams: a lifetime's training streams, then fresh streams for the test.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field

from evo_fastslow.tasks.base import BernoulliArms, Policy, Task


class RecurringEpisodes(BernoulliArms):
    def __init__(self, task: "RecurringBanditTask", contexts: np.ndarray, good: np.ndarray,
                 context_id: np.ndarray, recurring: np.ndarray, rng: np.random.Generator):
        trials, batch = task.trials, contexts.shape[0]
        self.task, self.good, self.context_id, self.recurring = task, good, context_id, recurring
        self.probs = np.full((batch, task.arms), task.bad_probability, np.float32)
        self.probs[np.arange(batch), good] = task.good_probability
        self.noise = rng.random((trials, batch), dtype=np.float32)
        self._obs = np.zeros((trials + 1, batch, task.obs_dim), np.float32)
        self._obs[:, :, :-1] = contexts[None]
        self._obs[:, :, -1] = (np.arange(trials + 1, dtype=np.float32) / trials)[:, None]
        self.first_obs, self.rows = self._obs[0], np.arange(batch)

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (self.noise[t] < self.probs[self.rows, actions]).astype(np.float32), self._obs[t + 1]

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self.probs.T, actions, axis=0).astype(np.float64)

    def oracle_reward(self) -> np.ndarray:
        return np.full(self.probs.shape[0], self.task.good_probability * self.task.trials)

    def random_reward(self) -> np.ndarray:
        return self.probs.mean(axis=1).astype(np.float64) * self.task.trials


CONTEXT_BOUND = 10.0  # contexts are standard normal, clipped (never in practice) to the env's Box


def _context(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.clip(rng.standard_normal(shape, dtype=np.float32), -CONTEXT_BOUND, CONTEXT_BOUND)


class RecurringStreams:
    """Per stream: the pool of contexts and their good arms, and which pool contexts were seen."""

    def __init__(self, task: "RecurringBanditTask", batch: int, rng: np.random.Generator):
        self.task, self.batch = task, batch
        self.pool = _context(rng, (batch, task.pool_size, task.context_dim))
        self.pool_good = rng.integers(0, task.arms, (batch, task.pool_size))
        self.seen = np.zeros((batch, task.pool_size), bool)

    def next(self, rng: np.random.Generator) -> RecurringEpisodes:
        task, rows = self.task, np.arange(self.batch)
        from_pool = rng.random(self.batch) < task.recur_probability
        index = rng.integers(0, task.pool_size, self.batch)
        fresh = _context(rng, (self.batch, task.context_dim))
        fresh_good = rng.integers(0, task.arms, self.batch)
        contexts = np.where(from_pool[:, None], self.pool[rows, index], fresh)
        good = np.where(from_pool, self.pool_good[rows, index], fresh_good)
        recurring = from_pool & self.seen[rows, index]
        self.seen[rows[from_pool], index[from_pool]] = True
        context_id = np.where(from_pool, index, -1)
        return RecurringEpisodes(task, contexts, good, context_id, recurring, rng)


class RecurringBanditTask(Task):
    kind: ClassVar[str] = "recurring-contextual-bandits"
    tabular: ClassVar[bool] = True  # one state: contexts do not follow the actions
    arms: int = Field(4, ge=2, le=100)
    trials: int = Field(10, ge=1, le=1000, description="pulls per episode")
    context_dim: int = Field(8, ge=2, le=256, description="size of a context vector")
    pool_size: int = Field(10, ge=1, le=10_000, description="contexts that recur in a stream")
    recur_probability: float = Field(0.7, ge=0.0, le=1.0, description="chance an episode's context is from the pool")
    good_probability: float = Field(0.9, ge=0.0, le=1.0)
    bad_probability: float = Field(0.1, ge=0.0, le=1.0)

    @property
    def obs_dim(self) -> int:
        return self.context_dim + 1

    @property
    def n_actions(self) -> int:
        return self.arms

    def streams(self, batch: int, rng: np.random.Generator) -> RecurringStreams:
        return RecurringStreams(self, batch, rng)

    def sample(self, batch: int, rng: np.random.Generator) -> RecurringEpisodes:
        """Episodes of fresh streams (every context novel)."""
        return self.streams(batch, rng).next(rng)

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        from evo_fastslow.tasks.bandit_baselines import OraclePolicy, RandomPolicy, ThompsonPolicy

        return {"random": RandomPolicy, "oracle": OraclePolicy, "thompson": ThompsonPolicy,
                "thompson-recall": ThompsonRecallPolicy}

    def analyse(self, rollouts: list) -> dict:
        """Reward by trial index on recurring and on novel contexts."""
        rewards = np.concatenate([r for _, _, r in rollouts], axis=1)  # [T, episodes]
        recurring = np.concatenate([e.recurring for e, _, _ in rollouts])
        by_trial = {"recurring": rewards[:, recurring].mean(axis=1).tolist() if recurring.any() else [],
                    "novel": rewards[:, ~recurring].mean(axis=1).tolist() if (~recurring).any() else []}
        first = min(3, rewards.shape[0])
        gap = (rewards[:first, recurring].mean() - rewards[:first, ~recurring].mean()
               if recurring.any() and (~recurring).any() else float("nan"))
        return {"reward_by_trial": by_trial, "recurring_episodes": int(recurring.sum()),
                "novel_episodes": int((~recurring).sum()), "first_trials_gap": float(gap)}


class ThompsonRecallPolicy:
    """Thompson sampling that keeps each pool context's Beta posteriors across the stream's episodes:
    perfect episodic recall of what was learned in a context (a reference for what memory can buy)."""

    def reset(self, episodes: RecurringEpisodes, batch: int, seed: int) -> None:
        task = episodes.task
        if getattr(self, "stored", None) is None or self.stored.shape[0] != batch:
            self.stored = np.zeros((batch, task.pool_size, 2, task.arms))  # successes, failures
        self.rows, self.rng, self.episodes = np.arange(batch), np.random.default_rng(seed), episodes
        pooled = episodes.context_id >= 0
        self.counts = np.zeros((batch, 2, task.arms))
        self.counts[pooled] = self.stored[self.rows[pooled], episodes.context_id[pooled]]

    def act(self, t: int) -> np.ndarray:
        return self.rng.beta(1.0 + self.counts[:, 0], 1.0 + self.counts[:, 1]).argmax(axis=1)

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.counts[self.rows, 0, actions] += rewards
        self.counts[self.rows, 1, actions] += 1.0 - rewards
        pooled = self.episodes.context_id >= 0
        self.stored[self.rows[pooled], self.episodes.context_id[pooled]] = self.counts[pooled]


class RecurringBanditEnv(gym.Env):
    """One stream: the pool is drawn at the first reset with a seed and kept across episodes."""

    metadata = {"render_modes": []}

    def __init__(self, **params):
        self.task = RecurringBanditTask(**params)
        self.observation_space = gym.spaces.Box(-CONTEXT_BOUND, CONTEXT_BOUND, shape=(self.task.obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.task.arms)
        self.stream = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.stream is None or seed is not None:
            self.stream = RecurringStreams(self.task, 1, self.np_random)
        self.episode, self.t = self.stream.next(self.np_random), 0
        return self.episode.first_obs[0].copy(), {"recurring": bool(self.episode.recurring[0]),
                                                  "good_arm": int(self.episode.good[0])}

    def step(self, action):
        p = self.episode.probs[0, int(action)]
        reward = float(self.np_random.random() < p)
        self.t += 1
        return self.episode._obs[self.t, 0].copy(), reward, self.t >= self.task.trials, False, {}
