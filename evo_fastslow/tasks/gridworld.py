"""A batched gridworld for meta-RL navigation (after Wang et al. 2016 and Duan et al. 2016, "RL²").

Each episode draws a maze (random interior walls; cells cut off from the goal become walls) and a goal
cell. For `steps` env steps the agent moves N/E/S/W (into a wall: it stays); reaching the goal pays 1
and restarts it at a random free cell: the goal stays put, so the trials after the first find can be
short paths. It sees an egocentric `view` x `view` window (channels: wall, goal; outside the grid
reads as wall), its own position (x, y on [0, 1]) and, if `context_dim` > 0, the maze's look (a random
+-1 vector per maze). A meta-learner explores, finds the goal, then
exploits what it learned: its first trial is long, the later ones short.
With `recur_probability` > 0 each stream keeps a pool of mazes that come back (Ritter et al. 2018):
an agent that recalls a recurring maze's goal can go straight there from the first trial.

Everything is batched NumPy over B episodes: no Python loop over environments.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from evo_fastslow.tasks.base import Policy, Task
from evo_fastslow.tasks.grid_paths import MOVES, UNREACHABLE, distances


class Mazes:
    """B mazes: walls [B, G, G] (a border of walls around size x size cells), goal cells [B, 2], a context
    vector each (the maze's look: [B, context_dim], maybe empty) and the shortest-path distance of every
    cell to the goal [B, G, G] (UNREACHABLE for walls)."""

    def __init__(self, walls: np.ndarray, goal: np.ndarray, context: np.ndarray):
        self.walls, self.goal, self.context = walls, goal, context
        self.dist = distances(walls, goal)
        self.walls |= self.dist >= UNREACHABLE  # cells the goal cannot be reached from: walls
        self.rows = np.arange(len(goal))

    @classmethod
    def draw(cls, task: "GridworldTask", batch: int, rng: np.random.Generator) -> "Mazes":
        g = task.size + 2
        walls = rng.random((batch, g, g)) < task.wall_density
        walls[:, 0, :] = walls[:, -1, :] = walls[:, :, 0] = walls[:, :, -1] = True
        goal = rng.integers(1, task.size + 1, (batch, 2))
        walls[np.arange(batch), goal[:, 0], goal[:, 1]] = False
        context = rng.choice(np.array([-1.0, 1.0], np.float32), size=(batch, task.context_dim))
        mazes = cls(walls.copy(), goal, context)
        cramped = (~mazes.walls).reshape(batch, -1).sum(1) < task.size + 1  # the goal walled into a corner
        if cramped.any():  # such a maze becomes an open room (deterministic: no redraw)
            walls[cramped, 1:-1, 1:-1] = False
            mazes = cls(walls, goal, context)
        return mazes

    def take(self, index: np.ndarray) -> "Mazes":
        return Mazes(self.walls[index].copy(), self.goal[index].copy(), self.context[index].copy())


class GridEpisodes:
    """B episodes of `steps` steps in B mazes; spawn cells pre-drawn (one per step: a find restarts the
    agent at the next step's draw), so that any policy's rollout is a function of its actions."""

    def __init__(self, task: "GridworldTask", mazes: Mazes, rng: np.random.Generator,
                 recurring: np.ndarray | None = None):
        self.task, self.mazes, self.batch = task, mazes, len(mazes.goal)
        self.recurring = np.zeros(self.batch, bool) if recurring is None else recurring
        g = task.size + 2
        free = (~mazes.walls).reshape(self.batch, g * g).copy()
        free[mazes.rows, mazes.goal[:, 0] * g + mazes.goal[:, 1]] = False
        count = free.sum(1)
        k = (rng.random((task.steps + 1, self.batch)) * count).astype(np.int64)  # [T + 1, B]
        flat = np.argmax(free.cumsum(1)[None] > k[..., None], axis=2)
        self.spawn = np.stack([flat // g, flat % g], axis=-1)  # [T + 1, B, 2]
        self.random_seed = int(rng.integers(2**63))
        r = task.view // 2
        self._padded = np.pad(mazes.walls, ((0, 0), (r, r), (r, r)), constant_values=True)
        goal_map = np.zeros_like(mazes.walls)
        goal_map[mazes.rows, mazes.goal[:, 0], mazes.goal[:, 1]] = True
        self._goal_padded = np.pad(goal_map, ((0, 0), (r, r), (r, r)))
        offsets = np.arange(task.view)
        self._dy, self._dx = offsets[None, :, None], offsets[None, None, :]
        self.reset()

    def reset(self) -> None:
        self.position = self.spawn[0].copy()
        self.first_obs = self.observe(self.position)

    def observe(self, position: np.ndarray) -> np.ndarray:
        """[B, 2 * view² + 2 + context_dim]: the egocentric window (walls, goal), the position on [0, 1],
        the maze's context."""
        rows, cols = position[:, 0, None, None] + self._dy, position[:, 1, None, None] + self._dx
        b = self.mazes.rows[:, None, None]
        scale = np.float32(1.0 / (self.task.size - 1))
        return np.concatenate([self._padded[b, rows, cols].reshape(self.batch, -1),
                               self._goal_padded[b, rows, cols].reshape(self.batch, -1),
                               (position - 1).astype(np.float32) * scale, self.mazes.context], axis=1, dtype=np.float32)

    def move(self, t: int, position: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(reward [B], next position [B, 2]) of `actions` at step t from `position`."""
        target = position + MOVES[actions]
        blocked = self.mazes.walls[self.mazes.rows, target[:, 0], target[:, 1]]
        target[blocked] = position[blocked]
        found = (target == self.mazes.goal).all(axis=1)
        target[found] = self.spawn[t + 1][found]
        return found.astype(np.float32), target

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if t == 0:
            self.reset()
        reward, self.position = self.move(t, self.position, actions)
        return reward, self.observe(self.position)

    def replay(self, policy: Callable[[int, np.ndarray], np.ndarray]) -> np.ndarray:
        """Rewards [T, B] of a policy of (t, position) -> actions, from the episode's start."""
        position, rewards = self.spawn[0].copy(), np.zeros((self.task.steps, self.batch))
        for t in range(self.task.steps):
            rewards[t], position = self.move(t, position, policy(t, position))
        return rewards

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        return self.replay(lambda t, _: actions[t])  # the dynamics are deterministic given the spawns

    def oracle_actions(self, position: np.ndarray) -> np.ndarray:
        """The move down the distance map to the goal (first of the shortest ones)."""
        neighbours = position[:, None, :] + MOVES[None]  # [B, 4, 2]
        d = self.mazes.dist[self.mazes.rows[:, None], neighbours[..., 0], neighbours[..., 1]]
        return d.argmin(axis=1)

    def oracle_reward(self) -> np.ndarray:
        return self.replay(lambda t, position: self.oracle_actions(position)).sum(0)

    def random_reward(self) -> np.ndarray:
        """Monte Carlo over 16 uniformly random rollouts (seeded per batch: the same for every policy)."""
        rng = np.random.default_rng(self.random_seed)
        return np.mean([self.replay(lambda t, _: rng.integers(0, 4, self.batch)).sum(0) for _ in range(16)], axis=0)

    def trial_lengths(self, rewards: np.ndarray) -> list[list[int]]:
        """Per episode, the steps each completed trial took (a find ends a trial)."""
        lengths = []
        for column in rewards.T:
            ends = np.flatnonzero(column > 0) + 1
            lengths.append(np.diff(np.concatenate([[0], ends])).tolist())
        return lengths


class GridStreams:
    """Per stream: a pool of mazes that recur with `recur_probability`, and which were seen."""

    def __init__(self, task: "GridworldTask", batch: int, rng: np.random.Generator):
        self.task, self.batch = task, batch
        self.pool = Mazes.draw(task, batch * task.pool_size, rng)
        self.seen = np.zeros((batch, task.pool_size), bool)

    def next(self, rng: np.random.Generator) -> GridEpisodes:
        task, rows = self.task, np.arange(self.batch)
        from_pool = rng.random(self.batch) < task.recur_probability
        index = rng.integers(0, task.pool_size, self.batch)
        fresh = Mazes.draw(task, self.batch, rng)
        pooled = self.pool.take(rows * task.pool_size + index)
        mazes = Mazes(np.where(from_pool[:, None, None], pooled.walls, fresh.walls),
                      np.where(from_pool[:, None], pooled.goal, fresh.goal),
                      np.where(from_pool[:, None], pooled.context, fresh.context))
        recurring = from_pool & self.seen[rows, index]
        self.seen[rows[from_pool], index[from_pool]] = True
        return GridEpisodes(task, mazes, rng, recurring)


class GridworldTask(Task):
    kind: ClassVar[str] = "gridworld"
    size: int = Field(6, ge=2, le=32, description="side of the square of cells inside the border wall")
    wall_density: float = Field(0.15, ge=0.0, lt=0.8, description="chance an interior cell is a wall")
    view: int = Field(3, ge=1, le=15, description="side of the egocentric window (odd: centred on the agent)")
    trials: int = Field(50, ge=2, le=10_000, description="env steps per episode (a find of the goal ends a "
                        "trial and restarts the agent: the number of trials is what the agent earns)")
    recur_probability: float = Field(0.0, ge=0.0, le=1.0, description="chance an episode's maze is one of the "
                                     "stream's pool (0: every maze new)")
    pool_size: int = Field(8, ge=1, le=10_000, description="mazes that can recur in a stream")
    context_dim: int = Field(0, ge=0, le=256, description="a random +-1 vector per maze in the observation (the "
                             "maze's look: what tells a recurring maze, as the contexts of Ritter et al. 2018)")

    @model_validator(mode="after")
    def _view_is_centred(self) -> "GridworldTask":
        if self.view % 2 == 0:
            raise ValueError("view: an odd number (the window is centred on the agent)")
        return self

    @property
    def obs_dim(self) -> int:
        return 2 * self.view * self.view + 2 + self.context_dim

    @property
    def n_actions(self) -> int:
        return 4

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the image part at the start of an observation, for a conv encoder."""
        return 2, self.view, self.view

    def streams(self, batch: int, rng: np.random.Generator) -> GridStreams | "FreshGrids":
        return GridStreams(self, batch, rng) if self.recur_probability > 0 else FreshGrids(self, batch)

    def sample(self, batch: int, rng: np.random.Generator) -> GridEpisodes:
        return GridEpisodes(self, Mazes.draw(self, batch, rng), rng)

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        """random; oracle (knows the goal: shortest paths); explore-then-exploit (knows the walls, not the
        goal: walks to the nearest cell it has not had in view until it sees the goal, then shortest
        paths; it remembers the goal within an episode, not across them)."""
        from evo_fastslow.tasks.gridworld_baselines import GridPolicy

        return {"random": lambda: GridPolicy("random"), "oracle": lambda: GridPolicy("oracle"),
                "explore-then-exploit": lambda: GridPolicy("explore")}

    def analyse(self, rollouts: list) -> dict:
        """Trial lengths: the first find against the later ones (the meta-RL signature), finds per
        episode, and on recurring against novel mazes where mazes recur."""
        first, later, finds, first_by = [], [], [], {"recurring": [], "novel": []}
        for episodes, _, rewards in rollouts:
            for b, lengths in enumerate(episodes.trial_lengths(rewards)):
                finds.append(len(lengths))
                if lengths:
                    first.append(lengths[0])
                    later += lengths[1:]
                    first_by["recurring" if episodes.recurring[b] else "novel"].append(lengths[0])
        mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
        return {"first_trial_steps": mean(first), "later_trial_steps": mean(later), "finds_per_episode": mean(finds),
                "first_trial_steps_recurring": mean(first_by["recurring"]),
                "first_trial_steps_novel": mean(first_by["novel"])}


class FreshGrids:
    def __init__(self, task: GridworldTask, batch: int):
        self.task, self.batch = task, batch

    def next(self, rng: np.random.Generator) -> GridEpisodes:
        return self.task.sample(self.batch, rng)


class GridworldEnv(gym.Env):
    """The Gymnasium twin: one stream, one step at a time (a pool of mazes kept across resets)."""

    metadata = {"render_modes": []}

    def __init__(self, **params):
        self.task = GridworldTask(**params)
        low = np.zeros(self.task.obs_dim, np.float32)
        low[self.task.obs_dim - self.task.context_dim:] = -1.0  # the maze's look is +-1
        self.observation_space = gym.spaces.Box(low, np.ones_like(low), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.stream = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.stream is None or seed is not None:
            self.stream = self.task.streams(1, self.np_random)
        self.episode, self.t = self.stream.next(self.np_random), 0
        return self.episode.first_obs[0].copy(), {"goal": self.episode.mazes.goal[0].tolist(),
                                                  "recurring": bool(self.episode.recurring[0])}

    def step(self, action):
        reward, obs = self.episode.step(self.t, np.array([int(action)]))
        self.t += 1
        return obs[0].copy(), float(reward[0]), self.t >= self.task.trials, False, {}
