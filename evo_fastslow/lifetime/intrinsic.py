"""Evolved intrinsic motivation: a bonus added to the reward slow learning trains on, never to the
reward the agent sees as its meta-RL input, nor to the reward it is tested on.

The genome picks the bonus (`intrinsic`) and its weight (`intrinsic_weight`); each is computed per
episode from the actions taken and the task's rewards, with counts per action within the episode
(what a meta-learner can also track: the drive to explore is shaped across a lifetime, used within an
episode). Only counts, sums, division and square roots, in float64: the same numbers on every CPU.
- novelty: 1 / sqrt(times this action was taken in the episode so far, this time included);
- surprise: |reward - mean reward this action earned before in the episode| (0 before: its prior);
- information: that prediction error divided by the count: how far the reward moved the estimate.
"""

from __future__ import annotations

import numpy as np


def bonus(kind: str, weight: float, actions: np.ndarray, rewards: np.ndarray, n_actions: int) -> np.ndarray:
    """The weighted bonus [T, B] (float32) of one batch of episodes: actions [T, B], rewards [T, B]."""
    if kind == "none":
        return np.zeros(actions.shape, np.float32)
    taken = actions[..., None] == np.arange(n_actions)  # [T, B, k]
    count = np.take_along_axis(np.cumsum(taken, axis=0), actions[..., None], axis=-1)[..., 0]  # this one included
    if kind == "novelty":
        return (weight / np.sqrt(count.astype(np.float64))).astype(np.float32)
    reward = rewards.astype(np.float64)
    earned = np.cumsum(taken * reward[..., None], axis=0)
    before = np.take_along_axis(earned, actions[..., None], axis=-1)[..., 0] - reward  # this action, before t
    seen = count - 1
    error = np.abs(reward - np.where(seen > 0, before / np.maximum(seen, 1), 0.0))
    if kind == "surprise":
        return (weight * error).astype(np.float32)
    if kind == "information":
        return (weight * error / count).astype(np.float32)
    raise ValueError(f"intrinsic: one of none, novelty, surprise, information; got {kind!r}")
