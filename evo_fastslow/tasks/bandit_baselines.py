"""Reference policies for Bernoulli bandits, run batched on the agent's own test episodes.

random, oracle (knows the arms), UCB1, Thompson sampling with Beta(1,1) priors, and for two arms the
exact Bayes-optimal policy: dynamic programming over the Beta posteriors (independent arms), or over
the single Beta posterior of p1 when p2 = 1 - p1 (correlated arms).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


class _Counts:
    """Per-episode successes and pulls per arm; [B, k]."""

    def reset(self, episodes, batch: int, seed: int) -> None:
        arms = episodes.probs.shape[1]
        self.successes = np.zeros((batch, arms), dtype=np.int64)
        self.pulls = np.zeros((batch, arms), dtype=np.int64)
        self.rows = np.arange(batch)
        self.rng = np.random.default_rng(seed)
        self.episodes = episodes

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.pulls[self.rows, actions] += 1
        self.successes[self.rows, actions] += rewards.astype(np.int64)


class RandomPolicy(_Counts):
    def act(self, t: int) -> np.ndarray:
        return self.rng.integers(0, self.pulls.shape[1], self.pulls.shape[0])


class OraclePolicy(_Counts):
    def act(self, t: int) -> np.ndarray:
        return self.episodes.probs.argmax(axis=1)


class UCB1Policy(_Counts):
    """Auer et al. 2002: pull each arm once, then argmax mean + sqrt(2 ln t / n)."""

    def act(self, t: int) -> np.ndarray:
        arms = self.pulls.shape[1]
        if t < arms:
            return np.full(self.pulls.shape[0], t, dtype=np.int64)
        bonus = np.sqrt(2.0 * np.log(t) / self.pulls)
        return (self.successes / self.pulls + bonus).argmax(axis=1)


class ThompsonPolicy(_Counts):
    """Sample each arm's p from Beta(1 + successes, 1 + failures); pull the best sample."""

    def act(self, t: int) -> np.ndarray:
        return self.rng.beta(1.0 + self.successes, 1.0 + self.pulls - self.successes).argmax(axis=1)


@lru_cache(maxsize=4)
def independent_two_arm_table(trials: int) -> tuple[np.ndarray, ...]:
    """Bayes-optimal choice (True = arm 1) per trial t, indexed [n0, s0, s1] (n1 = t - n0)."""
    value = np.zeros((trials + 1,) * 3)  # value-to-go after `trials` pulls: 0
    tables: list[np.ndarray] = [np.empty(0, bool)] * trials
    for t in range(trials - 1, -1, -1):
        grid = np.arange(t + 1, dtype=np.float64)
        n0, s0, s1 = grid[:, None, None], grid[None, :, None], grid[None, None, :]
        p0 = (s0 + 1.0) / (n0 + 2.0)
        p1 = (s1 + 1.0) / ((t - n0) + 2.0)
        q0 = p0 * (1.0 + value[1:t + 2, 1:t + 2, :t + 1]) + (1.0 - p0) * value[1:t + 2, :t + 1, :t + 1]
        q1 = p1 * (1.0 + value[:t + 1, :t + 1, 1:t + 2]) + (1.0 - p1) * value[:t + 1, :t + 1, :t + 1]
        tables[t] = q1 > q0
        value = np.maximum(q0, q1)
    return tuple(tables)


@lru_cache(maxsize=4)
def correlated_two_arm_table(trials: int) -> tuple[np.ndarray, ...]:
    """Bayes-optimal choice per trial t when p1 = 1 - p0, indexed by a = evidence for p0 (p0 ~ Beta(1+a, 1+t-a))."""
    value = np.zeros(trials + 1)
    tables: list[np.ndarray] = [np.empty(0, bool)] * trials
    for t in range(trials - 1, -1, -1):
        a = np.arange(t + 1, dtype=np.float64)
        p0 = (a + 1.0) / (t + 2.0)
        up, same = value[1:t + 2], value[:t + 1]  # a + 1 and a after the pull
        q0 = p0 * (1.0 + up) + (1.0 - p0) * same
        q1 = (1.0 - p0) * (1.0 + same) + p0 * up
        tables[t] = q1 > q0
        value = np.maximum(q0, q1)
    return tuple(tables)


class BayesOptimalPolicy(_Counts):
    """Exact Bayes-optimal two-armed policy for the uniform prior of the task distribution."""

    def __init__(self, trials: int, distribution: str):
        self.distribution = distribution
        if distribution == "independent":
            self.table = independent_two_arm_table(trials)
        else:
            self.table = correlated_two_arm_table(trials)

    def act(self, t: int) -> np.ndarray:
        pulls, wins = self.pulls, self.successes
        if self.distribution == "independent":
            choice = self.table[t][pulls[:, 0], wins[:, 0], wins[:, 1]]
        else:  # evidence for p0: successes of arm 0 plus failures of arm 1
            choice = self.table[t][wins[:, 0] + pulls[:, 1] - wins[:, 1]]
        return choice.astype(np.int64)
