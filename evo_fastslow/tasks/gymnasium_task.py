"""Any registered Gymnasium environment as a task (`kind: gymnasium`), run through Gymnasium's vector API.

A lifetime's episode is `trials` env steps of B environments stepped together
(`gymnasium.vector.SyncVectorEnv`, same-step autoreset): when an environment's own episode ends it
restarts at once, so one of our episodes can hold several of its episodes (trials of a meta-RL episode
when the environment keeps its task across resets; fresh draws otherwise). Environments are seeded from
the lifetime's derived task stream at every episode, so rollouts are reproducible. Observations are
flattened (Box, Discrete, MultiBinary, MultiDiscrete and Dicts or Tuples of them; text such as
MiniGrid's mission is left out), times `obs_scale`. Actions must be Discrete.
Slower than a batched NumPy task (a Python call per environment and step), but the user's own
environment works unchanged. An id like `minigrid:MiniGrid-Empty-5x5-v0` imports its package first.
There is no oracle for an arbitrary environment: suites use `metric: test_reward`; the random policy
is the baseline.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from evo_fastslow.tasks.base import Policy, Task

FLAT = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiBinary, gym.spaces.MultiDiscrete)


def _parts(space: gym.spaces.Space, path: tuple = ()) -> list[tuple[tuple, gym.spaces.Space]]:
    """The flattenable leaves of an observation space, in a fixed order (text and the like are skipped)."""
    if isinstance(space, FLAT):
        return [(path, space)]
    if isinstance(space, gym.spaces.Dict):
        return [leaf for key in space.spaces for leaf in _parts(space.spaces[key], path + (key,))]
    if isinstance(space, gym.spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in _parts(sub, path + (i,))]
    return []


def _at(obs: Any, path: tuple) -> Any:
    for key in path:
        obs = obs[key]
    return obs


@lru_cache(maxsize=8)
def _vector_env(env_id: str, kwargs_key: tuple, batch: int) -> gym.vector.SyncVectorEnv:
    """One vector env per (environment, batch size) in a process: making B environments per update would
    cost more than stepping them."""
    kwargs = dict(kwargs_key)
    return gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(batch)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


class GymEpisodes:
    """B environments stepped live; the rewards of the rollout are recorded for the test's tally."""

    def __init__(self, task: "GymnasiumTask", batch: int, rng: np.random.Generator):
        self.task, self.batch = task, batch
        self.envs = _vector_env(task.env_id, task.kwargs_key, batch)
        self.parts = _parts(self.envs.single_observation_space)
        seeds = rng.integers(0, 2**31 - 1, batch)
        obs, self.info = self.envs.reset(seed=[int(s) for s in seeds])  # info: what each reset drew, if it says
        self.first_obs = self.flatten(obs)
        self.rewards = np.zeros((task.trials, batch))

    def flatten(self, obs: Any) -> np.ndarray:
        """[B, obs_dim]: Discrete parts one-hot, the others as numbers, in the order of `_parts`."""
        out = []
        for path, space in self.parts:
            values = _at(obs, path)
            if isinstance(space, gym.spaces.Discrete):
                out.append(np.eye(space.n, dtype=np.float32)[np.asarray(values) - space.start])
            else:
                out.append(np.asarray(values, np.float32).reshape(self.batch, -1))
        return np.concatenate(out, axis=1) * np.float32(self.task.obs_scale)

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs, reward, _, _, _ = self.envs.step(actions)
        self.rewards[t] = reward
        return np.asarray(reward, np.float32), self.flatten(obs)

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        """The rewards the rollout just played got (a live environment cannot be replayed)."""
        return self.rewards

    def oracle_reward(self) -> np.ndarray:
        return np.full(self.batch, np.nan)

    def random_reward(self) -> np.ndarray:
        return np.full(self.batch, np.nan)


class GymnasiumTask(Task):
    kind: ClassVar[str] = "gymnasium"
    has_oracle: ClassVar[bool] = False
    env_id: str = Field(description="a registered Gymnasium id; `package:Id` imports the package first")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of gymnasium.make")
    trials: int = Field(100, ge=1, le=100_000, description="env steps per episode (the environment restarts "
                        "whenever its own episode ends)")
    obs_scale: float = Field(1.0, gt=0, description="observations are multiplied by this")

    @model_validator(mode="after")
    def _makes_a_discrete_env(self) -> "GymnasiumTask":
        self._spaces()
        return self

    @property
    def kwargs_key(self) -> tuple:
        return tuple(sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in self.env_kwargs.items()))

    def _spaces(self) -> tuple[int, int]:
        return _spaces(self.env_id, self.kwargs_key)

    @property
    def obs_dim(self) -> int:
        return self._spaces()[0]

    @property
    def n_actions(self) -> int:
        return self._spaces()[1]

    def sample(self, batch: int, rng: np.random.Generator) -> GymEpisodes:
        return GymEpisodes(self, batch, rng)

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        """The uniformly random policy (an arbitrary environment has no known oracle)."""
        return {"random": _RandomPolicy}


@lru_cache(maxsize=32)
def _spaces(env_id: str, kwargs_key: tuple) -> tuple[int, int]:
    """(flattened observation size, number of actions); ValueError saying what is wrong with the env."""
    try:
        env = gym.make(env_id, **dict(kwargs_key))
    except (gym.error.Error, ImportError, TypeError) as err:
        raise ValueError(f"env_id: a Gymnasium id that can be made ({type(err).__name__}: {err})") from None
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"env_id: an environment with Discrete actions (this one has {env.action_space})")
        parts = _parts(env.observation_space)
        if not parts:
            raise ValueError(f"env_id: an observation space with Box or Discrete parts (this one is "
                             f"{env.observation_space})")
        size = int(sum(int(space.n) if isinstance(space, gym.spaces.Discrete) else gym.spaces.flatdim(space)
                       for _, space in parts))
        return size, int(env.action_space.n)
    finally:
        env.close()


class _RandomPolicy:
    def reset(self, episodes: GymEpisodes, batch: int, seed: int) -> None:
        self.rng, self.batch, self.n = np.random.default_rng(seed), batch, episodes.task.n_actions

    def act(self, t: int) -> np.ndarray:
        return self.rng.integers(0, self.n, self.batch)

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        pass
