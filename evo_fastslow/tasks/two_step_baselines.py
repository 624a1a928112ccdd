"""Reference agents for the two-step task: model-free and model-based TD learners (Daw et al. 2011).

Both choose at stage 1 by a softmax over action values (inverse temperature `beta`) and learn at
rate `alpha`. Model-free credits the stage-1 action with the reward directly, whatever transition
happened; model-based learns the second-stage states' values and plans with the known transition
matrix, which is what produces the reward x transition interaction in stay probabilities.
"""

from __future__ import annotations

import numpy as np


class _TwoStepPolicy:
    alpha, beta = 0.5, 5.0

    def __init__(self, task=None):
        self.task = task

    def reset(self, episodes, batch: int, seed: int) -> None:
        self.episodes, self.rng = episodes, np.random.default_rng(seed)
        self.batch, self.rows = batch, np.arange(batch)
        self.values = np.full((batch, 2), 0.5)  # stage-1 action values (MF) or state values (MB)
        self.first = np.zeros(batch, np.int64)

    def _softmax_choice(self, q: np.ndarray) -> np.ndarray:
        p1 = 1.0 / (1.0 + np.exp(-self.beta * (q[:, 1] - q[:, 0])))
        return (self.rng.random(self.batch) < p1).astype(np.int64)

    def act(self, t: int) -> np.ndarray:
        if t % 2:
            return np.zeros(self.batch, np.int64)
        self.first = self._choose(t // 2)
        return self.first

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        if t % 2:
            self._learn(t // 2, rewards)

    def _choose(self, trial: int) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _learn(self, trial: int, rewards: np.ndarray) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class RandomPolicy(_TwoStepPolicy):
    def _choose(self, trial: int) -> np.ndarray:
        return self.rng.integers(0, 2, self.batch)

    def _learn(self, trial: int, rewards: np.ndarray) -> None:
        pass


class OraclePolicy(RandomPolicy):
    """Knows which second-stage state is better; takes the action that commonly leads there."""

    def _choose(self, trial: int) -> np.ndarray:
        return self.episodes.better[trial].copy()


class ModelFreePolicy(_TwoStepPolicy):
    def _choose(self, trial: int) -> np.ndarray:
        return self._softmax_choice(self.values)

    def _learn(self, trial: int, rewards: np.ndarray) -> None:
        chosen = self.values[self.rows, self.first]
        self.values[self.rows, self.first] = chosen + self.alpha * (rewards - chosen)


class ModelBasedPolicy(_TwoStepPolicy):
    def _choose(self, trial: int) -> np.ndarray:
        p = self.task.common_probability
        q = p * self.values + (1 - p) * self.values[:, ::-1]  # action a commonly reaches state a
        return self._softmax_choice(q)

    def _learn(self, trial: int, rewards: np.ndarray) -> None:
        state = self.episodes.second_state[trial]
        current = self.values[self.rows, state]
        self.values[self.rows, state] = current + self.alpha * (rewards - current)
