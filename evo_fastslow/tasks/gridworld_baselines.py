"""Reference policies for the gridworld, run batched on the agent's own test episodes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from evo_fastslow.tasks.grid_paths import MOVES, nearest_distances

if TYPE_CHECKING:  # the episodes a policy is reset on; the gridworld imports this module, not the reverse
    from evo_fastslow.tasks.gridworld import GridEpisodes


class GridPolicy:
    """random, oracle (shortest paths to the goal it knows) or explore (walls known, goal not: to the nearest
    cell never in view until the goal has been, then shortest paths)."""

    def __init__(self, kind: str):
        self.kind = kind

    def reset(self, episodes: "GridEpisodes", batch: int, seed: int) -> None:
        self.episodes, self.rng = episodes, np.random.default_rng(seed)
        self.position = episodes.spawn[0].copy()
        g = episodes.task.size + 2
        self.seen = np.zeros((batch, g, g), bool)
        self.knows_goal = np.zeros(batch, bool)
        self._look()

    def _look(self) -> None:
        """Mark the cells in view; the goal is known once it has been in view."""
        e, r = self.episodes, self.episodes.task.view // 2
        g = e.task.size + 2
        rows = np.clip(self.position[:, 0, None, None] + e._dy - r, 0, g - 1)
        cols = np.clip(self.position[:, 1, None, None] + e._dx - r, 0, g - 1)
        self.seen[e.mazes.rows[:, None, None], rows, cols] = True
        self.knows_goal |= self.seen[e.mazes.rows, e.mazes.goal[:, 0], e.mazes.goal[:, 1]]

    def act(self, t: int) -> np.ndarray:
        e = self.episodes
        if self.kind == "random":
            return self.rng.integers(0, 4, e.batch)
        if self.kind == "oracle":
            return e.oracle_actions(self.position)
        unseen = ~self.seen & ~e.mazes.walls
        unseen[~unseen.any(axis=(1, 2))] = ~e.mazes.walls[~unseen.any(axis=(1, 2))]  # all seen: anywhere
        to_unseen = nearest_distances(e.mazes.walls, unseen)
        neighbours = self.position[:, None, :] + MOVES[None]
        d = to_unseen[e.mazes.rows[:, None], neighbours[..., 0], neighbours[..., 1]]
        return np.where(self.knows_goal, e.oracle_actions(self.position), d.argmin(axis=1))

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        _, self.position = self.episodes.move(t, self.position, actions)
        self._look()
