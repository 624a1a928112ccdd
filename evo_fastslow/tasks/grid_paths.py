"""Shortest paths in a batch of mazes: what the gridworld and its reference policies both measure."""

from __future__ import annotations

import numpy as np

MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # N, E, S, W as (row, column) steps
UNREACHABLE = 10_000


def distances(walls: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Breadth-first distances [B, G, G] from one source cell per maze ([B, 2])."""
    mask = np.zeros(walls.shape, bool)
    mask[np.arange(len(sources)), sources[:, 0], sources[:, 1]] = True
    return nearest_distances(walls, mask)


def nearest_distances(walls: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Distances [B, G, G] to the nearest source cell (mask [B, G, G]), UNREACHABLE through walls: repeated
    relaxation of the whole batch until nothing changes (no Python loop over mazes)."""
    dist = np.where(sources, 0, UNREACHABLE)
    for _ in range(walls.shape[1] * walls.shape[2]):
        best = dist.copy()
        best[:, 1:, :] = np.minimum(best[:, 1:, :], dist[:, :-1, :] + 1)
        best[:, :-1, :] = np.minimum(best[:, :-1, :], dist[:, 1:, :] + 1)
        best[:, :, 1:] = np.minimum(best[:, :, 1:], dist[:, :, :-1] + 1)
        best[:, :, :-1] = np.minimum(best[:, :, :-1], dist[:, :, 1:] + 1)
        best[walls] = UNREACHABLE
        if np.array_equal(best, dist):
            break
        dist = best
    return dist
