"""Harlow's (1949) learning-to-learn task, the symbolic version used by reimplementations of
Wang et al. 2018: each episode draws two new random objects (vectors), one always rewarded; every
trial shows them in random left/right positions; the agent picks a side. Trial 1 is chance; a
learner-to-learn is right from trial 2 on. Observation: [left object, right object, episode fraction].
"""

from __future__ import annotations

from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field

from evo_fastslow.tasks.base import Policy, Tables, Task


class HarlowEpisodes:
    def __init__(self, task: "HarlowTask", batch: int, rng: np.random.Generator):
        trials, dim = task.trials, task.object_dim
        self.objects = rng.choice(np.array([-1.0, 1.0], np.float32), size=(batch, 2, dim))  # object 0 rewarded
        self.rewarded_side = rng.integers(0, 2, (trials, batch))  # where the rewarded object is shown
        left = np.where(self.rewarded_side[..., None] == 0, self.objects[None, :, 0], self.objects[None, :, 1])
        right = np.where(self.rewarded_side[..., None] == 0, self.objects[None, :, 1], self.objects[None, :, 0])
        self._obs = np.zeros((trials + 1, batch, 2 * dim + 1), np.float32)
        self._obs[:trials, :, :dim], self._obs[:trials, :, dim:2 * dim] = left, right
        self._obs[:, :, -1] = (np.arange(trials + 1, dtype=np.float32) / trials)[:, None]
        self.first_obs = self._obs[0]
        self.trials, self.batch = trials, batch

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (actions == self.rewarded_side[t]).astype(np.float32), self._obs[t + 1]

    def tables(self) -> Tables:
        rewards = (np.arange(2) == self.rewarded_side[..., None]).astype(np.float32)  # [T, B, 2], as step()
        return Tables.open_loop(self._obs[:self.trials], rewards)

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        return (actions == self.rewarded_side).astype(np.float64)

    def oracle_reward(self) -> np.ndarray:
        return np.full(self.batch, float(self.trials))

    def random_reward(self) -> np.ndarray:
        return np.full(self.batch, self.trials / 2)


class HarlowTask(Task):
    kind: ClassVar[str] = "harlow"
    tabular: ClassVar[bool] = True  # one state: the objects' positions do not follow the choices
    trials: int = Field(6, ge=2, le=1000, description="trials per episode")
    object_dim: int = Field(8, ge=2, le=256, description="size of an object's random +-1 vector")

    @property
    def obs_dim(self) -> int:
        return 2 * self.object_dim + 1

    @property
    def n_actions(self) -> int:
        return 2

    def sample(self, batch: int, rng: np.random.Generator) -> HarlowEpisodes:
        return HarlowEpisodes(self, batch, rng)

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        return {"random": HarlowRandom, "oracle": HarlowOracle, "ideal-learner": HarlowIdealLearner}

    def analyse(self, rollouts: list) -> dict:
        correct = np.concatenate([(a == e.rewarded_side) for e, a, _ in rollouts], axis=1)
        return {"accuracy_by_trial": correct.mean(axis=1).tolist()}


class HarlowRandom:
    def reset(self, episodes: HarlowEpisodes, batch: int, seed: int) -> None:
        self.episodes, self.rng, self.batch = episodes, np.random.default_rng(seed), batch

    def act(self, t: int) -> np.ndarray:
        return self.rng.integers(0, 2, self.batch)

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        pass


class HarlowOracle(HarlowRandom):
    def act(self, t: int) -> np.ndarray:
        return self.episodes.rewarded_side[t].copy()


class HarlowIdealLearner(HarlowRandom):
    """Guesses on trial 1, then always picks the object that proved rewarded: the best possible learner."""

    def act(self, t: int) -> np.ndarray:
        return self.rng.integers(0, 2, self.batch) if t == 0 else self.episodes.rewarded_side[t].copy()


class HarlowEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, trials: int = 6, object_dim: int = 8):
        self.task = HarlowTask(trials=trials, object_dim=object_dim)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(self.task.obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.task.obs_dim, np.float32)
        if self.t < self.task.trials:
            first, second = (self.objects[0], self.objects[1]) if self.side == 0 else (self.objects[1], self.objects[0])
            obs[:self.task.object_dim], obs[self.task.object_dim:-1] = first, second
        obs[-1] = self.t / self.task.trials
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.objects = self.np_random.choice(np.array([-1.0, 1.0], np.float32), size=(2, self.task.object_dim))
        self.t, self.side = 0, int(self.np_random.integers(0, 2))
        return self._obs(), {}

    def step(self, action):
        reward = float(int(action) == self.side)
        self.t += 1
        self.side = int(self.np_random.integers(0, 2))
        return self._obs(), reward, self.t >= self.task.trials, False, {}
