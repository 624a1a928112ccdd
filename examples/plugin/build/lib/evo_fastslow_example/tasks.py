"""A two-armed Bernoulli bandit whose arms swap probabilities halfway through the episode: a fast learner
must notice the reversal from its own rewards. Tabular (one state, open loop), so evo-fastslow's fused
kernel runs it for LSTM and GRU cores."""

from __future__ import annotations

from typing import Callable, ClassVar

import numpy as np
from pydantic import Field

from evo_fastslow.tasks import Policy, Task
from evo_fastslow.tasks.base import Tables


class ReversalEpisodes:
    def __init__(self, probs: np.ndarray, noise: np.ndarray):
        self.probs, self.noise = probs, noise  # [B, 2], [T, B]
        trials, batch = noise.shape
        self.swap = trials // 2
        self.rows = np.arange(batch)
        fraction = np.arange(trials + 1, dtype=np.float32) / trials
        self.obs = np.ascontiguousarray(np.broadcast_to(fraction[:, None, None], (trials + 1, batch, 1)))
        self.first_obs = self.obs[0]

    def arm_probs(self, t: int) -> np.ndarray:
        return self.probs if t < self.swap else self.probs[:, ::-1]

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.arm_probs(t)[self.rows, actions]
        return (self.noise[t] < chosen).astype(np.float32), self.obs[t + 1]

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        return np.stack([self.arm_probs(t)[self.rows, actions[t]] for t in range(actions.shape[0])])

    def oracle_reward(self) -> np.ndarray:
        return self.probs.max(axis=1) * self.noise.shape[0]

    def random_reward(self) -> np.ndarray:
        return self.probs.mean(axis=1) * self.noise.shape[0]

    def tables(self) -> Tables:
        trials = self.noise.shape[0]
        rewards = np.stack([(self.noise[t][:, None] < self.arm_probs(t)) for t in range(trials)]).astype(np.float32)
        return Tables.open_loop(self.obs[:trials], rewards)


class ReversalBandit(Task):
    kind: ClassVar[str] = "reversal-bandit"
    tabular: ClassVar[bool] = True
    reward_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    trials: int = Field(20, ge=2, description="pulls per episode; the arms swap after half of them")

    @property
    def obs_dim(self) -> int:
        return 1

    @property
    def n_actions(self) -> int:
        return 2

    def sample(self, batch: int, rng: np.random.Generator) -> ReversalEpisodes:
        return ReversalEpisodes(rng.random((batch, 2), dtype=np.float32),
                                rng.random((self.trials, batch), dtype=np.float32))

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        from evo_fastslow.tasks import bandit_baselines as b

        return {"random": b.RandomPolicy}
