"""Bandit references for any number of arms: the Gittins index policy, the exact Bayes-optimal policy
wherever dynamic programming over posterior counts is tractable, and the greedy policy.

All assume the task's prior: each arm's p ~ U(0,1) = Beta(1,1), independently.

Gittins index (Gittins 1979): the index of an arm with Beta(1+s, 1+f) posterior is the retirement
reward per step λ at which continuing to pull it (and retiring optimally later) is worth exactly
retiring now, in the γ-discounted problem. Computed by calibration: one backward induction over the
posterior tree for a whole grid of λ at once (vectorised), the crossing found per state by linear
interpolation between grid points. The tree is truncated `depth` pulls deep, where the arm's posterior
mean is taken as known. The discount defaults to γ = 1 - 1/trials (an effective horizon of one episode);
a finite episode has no discount of its own, so the index policy is a reference, not the optimum.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb, factorial

import numpy as np

from evo_fastslow.tasks.bandit_baselines import _Counts

GRID = 1001            # retirement rewards λ tried at once in the calibration
MAX_BAYES_STATES = 400_000  # canonical posterior states the exact k-armed dynamic programme may visit


def default_discount(trials: int) -> float:
    return 1.0 - 1.0 / max(trials, 2)


@lru_cache(maxsize=8)
def gittins_table(trials: int, discount: float, depth: int | None = None) -> tuple[np.ndarray, ...]:
    """Gittins indices for every posterior an episode of `trials` pulls can reach: table[s + f][s] for
    Beta(1 + s, 1 + f), s + f < trials."""
    depth = depth or max(trials, int(np.ceil(4.0 / (1.0 - discount))))
    lam = np.linspace(0.0, 1.0, GRID)[:, None]  # [G, 1]
    retire = lam / (1.0 - discount)
    level = np.arange(depth + 1, dtype=np.float64)
    value = np.maximum(lam, (level + 1.0) / (depth + 2.0)) / (1.0 - discount)  # at the truncation: p known
    tables: list[np.ndarray] = [np.empty(0)] * trials
    for d in range(depth - 1, -1, -1):
        s = np.arange(d + 1, dtype=np.float64)
        p = (s + 1.0) / (d + 2.0)
        pull = p * (1.0 + discount * value[:, 1:d + 2]) + (1.0 - p) * discount * value[:, :d + 1]  # [G, d+1]
        if d < trials:
            tables[d] = _crossing(pull - retire, lam[:, 0])
        value = np.maximum(retire, pull)
    return tuple(tables)


def _crossing(advantage: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Per column, the λ where the (decreasing) advantage of pulling over retiring crosses zero."""
    positive = (advantage > 0).sum(axis=0)  # advantage > 0 for the first `positive` grid points
    i = np.clip(positive - 1, 0, len(lam) - 2)
    cols = np.arange(advantage.shape[1])
    a0, a1 = advantage[i, cols], advantage[i + 1, cols]
    fraction = np.where(a0 != a1, a0 / np.where(a0 != a1, a0 - a1, 1.0), 0.0)
    return lam[i] + np.clip(fraction, 0.0, 1.0) * (lam[i + 1] - lam[i])


class GittinsPolicy(_Counts):
    """Pull the arm with the highest Gittins index (ties: the lowest arm)."""

    def __init__(self, trials: int, discount: float | None = None):
        self.trials = trials
        self.discount = default_discount(trials) if discount is None else discount

    def reset(self, episodes, batch: int, seed: int) -> None:
        super().reset(episodes, batch, seed)
        table = gittins_table(self.trials, self.discount)
        width = len(table[-1])
        self.index = np.zeros((self.trials, width))
        for d, row in enumerate(table):
            self.index[d, :len(row)] = row

    def act(self, t: int) -> np.ndarray:
        return self.index[self.pulls, self.successes].argmax(axis=1)


class GreedyPolicy(_Counts):
    """Pull the arm with the highest posterior mean (1 + s) / (2 + n); ties broken at random."""

    def act(self, t: int) -> np.ndarray:
        mean = (self.successes + 1.0) / (self.pulls + 2.0)
        return (mean + 1e-9 * self.rng.random(mean.shape)).argmax(axis=1)


def bayes_states(arms: int, trials: int) -> int:
    """About how many canonical states (posterior counts up to the order of the arms) the exact
    dynamic programme visits: count vectors of 2k numbers summing to at most `trials`, over k!."""
    return comb(trials + 2 * arms, 2 * arms) // factorial(arms)


def bayes_optimal_tractable(arms: int, trials: int) -> bool:
    return bayes_states(arms, trials) <= MAX_BAYES_STATES


class _BayesTree:
    """The exact Bayes-optimal value of every canonical posterior state of a k-armed episode."""

    def __init__(self, arms: int, trials: int):
        self.arms, self.trials = arms, trials
        self.best: dict[tuple, int] = {}   # canonical state -> position (in the sorted order) to pull
        self.value: dict[tuple, float] = {}
        start = ((0, 0),) * arms
        self._solve(start)

    def _solve(self, root: tuple) -> None:
        # iterative post-order: the depth (trials) may exceed Python's recursion limit
        stack = [root]
        while stack:
            state = stack[-1]
            if state in self.value:
                stack.pop()
                continue
            if sum(s + f for s, f in state) == self.trials:
                self.value[state] = 0.0
                stack.pop()
                continue
            children = [(self._after(state, i, True), self._after(state, i, False)) for i in range(self.arms)]
            missing = [c for pair in children for c in pair if c not in self.value]
            if missing:
                stack.extend(missing)
                continue
            best, best_q = 0, -1.0
            for i, (won, lost) in enumerate(children):
                s, f = state[i]
                p = (s + 1.0) / (s + f + 2.0)
                q = p * (1.0 + self.value[won]) + (1.0 - p) * self.value[lost]
                if q > best_q + 1e-12:
                    best, best_q = i, q
            self.value[state], self.best[state] = best_q, best
            stack.pop()

    @staticmethod
    def _after(state: tuple, i: int, won: bool) -> tuple:
        s, f = state[i]
        changed = list(state)
        changed[i] = (s + 1, f) if won else (s, f + 1)
        return tuple(sorted(changed))


@lru_cache(maxsize=4)
def bayes_tree(arms: int, trials: int) -> _BayesTree:
    return _BayesTree(arms, trials)


class KArmedBayesOptimalPolicy(_Counts):
    """Exact Bayes-optimal policy for k independent arms with uniform priors (dynamic programming over
    the posterior counts, arms being exchangeable: states taken up to their order)."""

    def __init__(self, arms: int, trials: int):
        self.tree = bayes_tree(arms, trials)

    def act(self, t: int) -> np.ndarray:
        failures = self.pulls - self.successes
        actions = np.empty(len(self.rows), dtype=np.int64)
        for row in self.rows:
            pairs = list(zip(self.successes[row].tolist(), failures[row].tolist()))
            order = sorted(range(len(pairs)), key=lambda i: pairs[i])
            position = self.tree.best[tuple(pairs[i] for i in order)]
            actions[row] = order[position]
        return actions
