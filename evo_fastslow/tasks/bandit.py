"""Bernoulli bandits as in Wang et al. 2016, "Learning to reinforcement learn".

Arm probabilities are drawn per episode: `independent` (each arm ~ U(0,1)) or `correlated`
(two arms, p2 = 1 - p1). The observation is the trial index as a fraction of the episode; the
agent's meta-RL inputs (previous action and reward) are the agent's business, not the task's.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from evo_fastslow.tasks.base import BernoulliArms, KnownArms, Policy, Task


class BanditEpisodes(BernoulliArms, KnownArms):
    """B bandit episodes: arm probabilities [B, k] and reward noise [T, B] drawn up front."""

    def __init__(self, probs: np.ndarray, noise: np.ndarray):
        self.probs, self.noise = probs, noise  # [B, k], [T, B]
        trials, batch = noise.shape
        self._rows = np.arange(batch)
        # obs[t] = fraction of the episode elapsed at trial t; [T + 1, B, 1]
        fraction = np.arange(trials + 1, dtype=np.float32) / trials
        self._obs = np.broadcast_to(fraction[:, None, None], (trials + 1, batch, 1))
        self.first_obs = self._obs[0]

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.probs[self._rows, actions]
        return (self.noise[t] < chosen).astype(np.float32), self._obs[t + 1]

    @property
    def arm_values(self) -> np.ndarray:
        return self.probs


class BanditTask(Task):
    """k-armed Bernoulli bandit, `trials` pulls per episode."""

    kind: ClassVar[str] = "bandit"
    tabular: ClassVar[bool] = True
    arms: int = Field(2, ge=2, le=100, description="number of arms")
    trials: int = Field(100, ge=1, le=10_000, description="pulls per episode")
    distribution: Literal["independent", "correlated"] = "independent"

    @model_validator(mode="after")
    def _correlated_has_two_arms(self) -> "BanditTask":
        if self.distribution == "correlated" and self.arms != 2:
            raise ValueError("the correlated distribution (p2 = 1 - p1) needs arms: 2")
        return self

    @property
    def obs_dim(self) -> int:
        return 1

    @property
    def n_actions(self) -> int:
        return self.arms

    def sample_probs(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        if self.distribution == "independent":
            return rng.random((batch, self.arms), dtype=np.float32)
        p1 = rng.random((batch, 1), dtype=np.float32)
        return np.concatenate([p1, 1.0 - p1], axis=1)

    def sample(self, batch: int, rng: np.random.Generator) -> BanditEpisodes:
        probs = self.sample_probs(batch, rng)
        return BanditEpisodes(probs, rng.random((self.trials, batch), dtype=np.float32))

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        """random, oracle, UCB1, Thompson, greedy; Gittins for independent arms (the index assumes them);
        the exact Bayes-optimal policy for two arms, and for k arms where the dynamic programme is tractable."""
        from evo_fastslow.tasks import bandit_baselines as b
        from evo_fastslow.tasks import bandit_gittins as g

        policies: dict[str, Callable[[], Policy]] = {
            "random": b.RandomPolicy, "oracle": b.OraclePolicy, "ucb1": b.UCB1Policy,
            "thompson": b.ThompsonPolicy, "greedy": g.GreedyPolicy,
        }
        if self.distribution == "independent":
            policies["gittins"] = lambda: g.GittinsPolicy(self.trials)
        if self.arms == 2:
            policies["bayes-optimal"] = lambda: b.BayesOptimalPolicy(self.trials, self.distribution)
        elif g.bayes_optimal_tractable(self.arms, self.trials):
            policies["bayes-optimal"] = lambda: g.KArmedBayesOptimalPolicy(self.arms, self.trials)
        return policies


class BanditEnv(gym.Env):
    """The Gymnasium twin of BanditTask: one episode, stepped one pull at a time.

    `reset(options={"probs": [...]})` fixes the arm probabilities, otherwise they are drawn.
    """

    metadata = {"render_modes": []}

    def __init__(self, arms: int = 2, trials: int = 100, distribution: str = "independent"):
        self.task = BanditTask(arms=arms, trials=trials, distribution=distribution)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(arms)
        self.probs = np.full(arms, 0.5)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t / self.task.trials], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "probs" in options:
            self.probs = np.asarray(options["probs"], dtype=np.float64)
        elif self.task.distribution == "independent":
            self.probs = self.np_random.random(self.task.arms)
        else:
            p1 = self.np_random.random()
            self.probs = np.array([p1, 1.0 - p1])
        self.t = 0
        return self._obs(), {"probs": self.probs.copy()}

    def step(self, action):
        reward = float(self.np_random.random() < self.probs[int(action)])
        self.t += 1
        return self._obs(), reward, self.t >= self.task.trials, False, {}
