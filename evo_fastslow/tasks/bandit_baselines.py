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


Bonus = tuple[str, float]  # an intrinsic bonus (lifetime/intrinsic.py): its kind and weight
NO_BONUS: Bonus = ("none", 0.0)


def independent_two_arm_table(trials: int, discount: float = 1.0, bonus: Bonus = NO_BONUS) -> tuple[np.ndarray, ...]:
    """Bayes-optimal choice (True = arm 1) per trial t, indexed [n0, s0, s1] (n1 = t - n0), for the
    return discounted by `discount` (1: the task's own, undiscounted, objective), plus `bonus` per pull."""
    return _independent_two_arm(trials, discount, bonus)[0]


def correlated_two_arm_table(trials: int, discount: float = 1.0) -> tuple[np.ndarray, ...]:
    """Bayes-optimal choice per trial t when p1 = 1 - p0, indexed by a = evidence for p0 (p0 ~ Beta(1+a, 1+t-a)),
    for the return discounted by `discount`."""
    return _correlated_two_arm(trials, discount)[0]


def discounted_ceiling(trials: int, distribution: str, discount: float, bonus: Bonus = NO_BONUS) -> float:
    """The expected regret per episode (undiscounted, exact, over the task's prior) of the policy that is
    Bayes-optimal for the return discounted by `discount`: the best an agent trained on that discount can
    reach. 1.0 gives the Bayes-optimal regret; below 1, a myopic agent's floor (why a lifetime's evolved
    discount bounds its regret). With `bonus` (independent arms), the policy optimal for that return plus
    an intrinsic bonus: how far a drive to explore can make up for a short discount."""
    if distribution == "independent":
        return _independent_two_arm(trials, discount, bonus)[1]
    if bonus[0] != "none":
        raise ValueError("a bonus's ceiling is computed for independent arms only")
    return _correlated_two_arm(trials, discount)[1]


def _expected_bonus(bonus: Bonus, pulls: np.ndarray, wins: np.ndarray, p: np.ndarray) -> np.ndarray | float:
    """The posterior expectation of lifetime/intrinsic.py's bonus for pulling an arm pulled `pulls` times
    with `wins` successes, whose next reward is 1 with probability `p`."""
    kind, weight = bonus
    if kind == "none":
        return 0.0
    if kind == "novelty":
        return weight / np.sqrt(pulls + 1.0)
    mean = np.where(pulls > 0, wins / np.maximum(pulls, 1.0), 0.0)
    error = p * (1.0 - mean) + (1.0 - p) * mean  # E|r - mean| for r in {0, 1}, mean in [0, 1]
    if kind == "surprise":
        return weight * error
    if kind == "information":
        return weight * error / (pulls + 1.0)
    raise ValueError(f"bonus: one of none, novelty, surprise, information; got {kind!r}")


@lru_cache(maxsize=8)
def _independent_two_arm(trials: int, discount: float, bonus: Bonus = NO_BONUS) -> tuple[tuple[np.ndarray, ...], float]:
    """Backward induction over the Beta posteriors: the discounted values (with the bonus) decide, the
    undiscounted expected reward of those decisions is carried beside them. Returns (tables, expected regret)."""
    value = np.zeros((trials + 1,) * 3)  # discounted value-to-go after `trials` pulls: 0
    reward = np.zeros_like(value)  # the undiscounted reward-to-go of the same decisions
    tables: list[np.ndarray] = [np.empty(0, bool)] * trials
    for t in range(trials - 1, -1, -1):
        grid = np.arange(t + 1, dtype=np.float64)
        n0, s0, s1 = grid[:, None, None], grid[None, :, None], grid[None, None, :]
        p0 = (s0 + 1.0) / (n0 + 2.0)
        p1 = (s1 + 1.0) / ((t - n0) + 2.0)
        win0, lose0 = np.s_[1:t + 2, 1:t + 2, :t + 1], np.s_[1:t + 2, :t + 1, :t + 1]
        win1, lose1 = np.s_[:t + 1, :t + 1, 1:t + 2], np.s_[:t + 1, :t + 1, :t + 1]
        q0 = p0 * (1.0 + discount * value[win0]) + (1.0 - p0) * discount * value[lose0]
        q1 = p1 * (1.0 + discount * value[win1]) + (1.0 - p1) * discount * value[lose1]
        q0, q1 = q0 + _expected_bonus(bonus, n0, s0, p0), q1 + _expected_bonus(bonus, t - n0, s1, p1)
        pick1 = tables[t] = q1 > q0
        value = np.maximum(q0, q1)
        reward = np.where(pick1, p1 * (1.0 + reward[win1]) + (1.0 - p1) * reward[lose1],
                          p0 * (1.0 + reward[win0]) + (1.0 - p0) * reward[lose0])
    return tuple(tables), trials * 2.0 / 3.0 - float(reward[0, 0, 0])  # E[max(p0, p1)] = 2/3 per pull


@lru_cache(maxsize=4)
def _correlated_two_arm(trials: int, discount: float) -> tuple[tuple[np.ndarray, ...], float]:
    value, reward = np.zeros(trials + 1), np.zeros(trials + 1)
    tables: list[np.ndarray] = [np.empty(0, bool)] * trials
    for t in range(trials - 1, -1, -1):
        a = np.arange(t + 1, dtype=np.float64)
        p0 = (a + 1.0) / (t + 2.0)
        q0 = p0 * (1.0 + discount * value[1:t + 2]) + (1.0 - p0) * discount * value[:t + 1]  # a + 1 and a after
        q1 = (1.0 - p0) * (1.0 + discount * value[:t + 1]) + p0 * discount * value[1:t + 2]
        pick1 = tables[t] = q1 > q0
        value = np.maximum(q0, q1)
        reward = np.where(pick1, (1.0 - p0) * (1.0 + reward[:t + 1]) + p0 * reward[1:t + 2],
                          p0 * (1.0 + reward[1:t + 2]) + (1.0 - p0) * reward[:t + 1])
    return tuple(tables), trials * 0.75 - float(reward[0])  # E[max(p, 1 - p)] = 3/4 per pull


class BayesOptimalPolicy(_Counts):
    """Exact Bayes-optimal two-armed policy for the uniform prior of the task distribution (for the return
    discounted by `discount`: 1, the task's own objective, unless asked; plus `bonus` per pull, on
    independent arms)."""

    def __init__(self, trials: int, distribution: str, discount: float = 1.0, bonus: Bonus = NO_BONUS):
        self.distribution = distribution
        if distribution == "independent":
            self.table = independent_two_arm_table(trials, discount, bonus)
        elif bonus[0] != "none":
            raise ValueError("a policy optimal with a bonus is computed for independent arms only")
        else:
            self.table = correlated_two_arm_table(trials, discount)

    def act(self, t: int) -> np.ndarray:
        pulls, wins = self.pulls, self.successes
        if self.distribution == "independent":
            choice = self.table[t][pulls[:, 0], wins[:, 0], wins[:, 1]]
        else:  # evidence for p0: successes of arm 0 plus failures of arm 1
            choice = self.table[t][wins[:, 0] + pulls[:, 1] - wins[:, 1]]
        return choice.astype(np.int64)
