"""A bandit where exploration is the bottleneck: a safe mediocre arm and a rarely paying jackpot.

Arm 0 is safe: it pays `safe_reward` on every pull, in every episode, so slow learning finds it at
once. One of the other arms, drawn afresh each episode, is the jackpot: it pays `jackpot_reward` with
probability `jackpot_probability` (expected value above the safe arm's); the rest pay nothing. A risky
arm pulled at random is worth less than the safe one on average, so the gradient first pulls a learner
onto arm 0 (a deceptive local optimum); only an agent that explores the risky arms, finds the jackpot
from its rare payouts and then commits to it earns more. Observation: the episode fraction elapsed.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from evo_fastslow.tasks.base import KnownArms, Policy, Tables, Task


class JackpotEpisodes(KnownArms):
    """B episodes: the jackpot's arm [B] and the payout noise [T, B], drawn up front."""

    def __init__(self, task: "JackpotBanditTask", jackpot_arm: np.ndarray, noise: np.ndarray):
        self.task, self.jackpot_arm, self.noise = task, jackpot_arm, noise
        trials, batch = noise.shape
        self._rows = np.arange(batch)
        fraction = np.arange(trials + 1, dtype=np.float32) / trials
        self._obs = np.broadcast_to(fraction[:, None, None], (trials + 1, batch, 1))
        self.first_obs = self._obs[0]
        self.arm_values = np.zeros((batch, task.arms))  # [B, k] expected reward of each arm
        self.arm_values[:, 0] = task.safe_reward
        self.arm_values[self._rows, jackpot_arm] = task.jackpot_reward * task.jackpot_probability

    def _rewards(self, t: int | slice) -> np.ndarray:
        """What every arm pays [..., B, k] at trial(s) t (a draw per trial, shared by the arms)."""
        task = self.task
        paid = (self.noise[t] < task.jackpot_probability).astype(np.float32) * task.jackpot_reward
        rewards = np.zeros(np.shape(paid) + (task.arms,), np.float32)
        rewards[..., 0] = task.safe_reward
        np.put_along_axis(rewards, np.broadcast_to(self.jackpot_arm[:, None], np.shape(paid) + (1,)),
                          paid[..., None], axis=-1)
        return rewards

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._rewards(t)[self._rows, actions], self._obs[t + 1]

    def tables(self) -> Tables:
        return Tables.open_loop(self._obs[:self.noise.shape[0]], self._rewards(slice(None)))



class JackpotBanditTask(Task):
    """k arms: arm 0 safe, one other the jackpot (redrawn per episode), the rest empty."""

    kind: ClassVar[str] = "jackpot-bandit"
    tabular: ClassVar[bool] = True
    arms: int = Field(4, ge=3, le=100, description="arms: the safe one, the jackpot and arms - 2 empty ones")
    trials: int = Field(50, ge=2, le=10_000, description="pulls per episode")
    safe_reward: float = Field(0.5, gt=0, description="what arm 0 pays on every pull")
    jackpot_reward: float = Field(5.0, gt=0, description="what the jackpot pays when it pays")
    jackpot_probability: float = Field(0.2, gt=0, le=1, description="how often the jackpot pays")

    @model_validator(mode="after")
    def _jackpot_is_worth_finding(self) -> "JackpotBanditTask":
        if self.jackpot_reward * self.jackpot_probability <= self.safe_reward:
            raise ValueError("jackpot_reward * jackpot_probability above safe_reward (else exploring never pays)")
        return self

    @property
    def obs_dim(self) -> int:
        return 1

    @property
    def n_actions(self) -> int:
        return self.arms

    def sample(self, batch: int, rng: np.random.Generator) -> JackpotEpisodes:
        jackpot = rng.integers(1, self.arms, batch)
        return JackpotEpisodes(self, jackpot, rng.random((self.trials, batch), dtype=np.float32))

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        """random; oracle (knows the jackpot); safe, the best fixed policy (arm 0: every other arm is
        the jackpot only 1 / (k - 1) of the time); explore-then-commit, scripted."""
        return {"random": lambda: _Scripted("random"), "oracle": lambda: _Scripted("oracle"),
                "safe": lambda: _Scripted("safe"), "explore-then-commit": lambda: ExploreThenCommit(self)}

    def analyse(self, rollouts: list) -> dict:
        """How often the agent ends an episode on the jackpot, on the safe arm: did it explore?"""
        last = np.concatenate([actions[-10:] for _, actions, _ in rollouts], axis=1)  # [10, episodes]
        jackpot = np.concatenate([episodes.jackpot_arm for episodes, _, _ in rollouts])
        return {"last_10_on_jackpot": float((last == jackpot).mean()), "last_10_on_safe": float((last == 0).mean())}


class _Scripted:
    """random, oracle or safe: no use of what happened in the episode."""

    def __init__(self, kind: str):
        self.kind = kind

    def reset(self, episodes: JackpotEpisodes, batch: int, seed: int) -> None:
        self.episodes, self.batch, self.rng = episodes, batch, np.random.default_rng(seed)

    def act(self, t: int) -> np.ndarray:
        if self.kind == "random":
            return self.rng.integers(0, self.episodes.task.arms, self.batch)
        if self.kind == "oracle":
            return self.episodes.jackpot_arm.astype(np.int64)
        return np.zeros(self.batch, np.int64)

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        pass


class ExploreThenCommit:
    """Pull the risky arms in turn until one pays (then stay on it); give up for the safe arm after
    `patience` rounds, the rounds after which a silent jackpot is less likely than 5%."""

    def __init__(self, task: JackpotBanditTask):
        self.task = task
        self.patience = math.ceil(math.log(0.05) / math.log(1.0 - task.jackpot_probability)) \
            if task.jackpot_probability < 1 else 1

    def reset(self, episodes: JackpotEpisodes, batch: int, seed: int) -> None:
        self.found = np.full(batch, -1, np.int64)

    def act(self, t: int) -> np.ndarray:
        risky = self.task.arms - 1
        exploring = 1 + t % risky
        give_up = t >= self.patience * risky
        return np.where(self.found >= 0, self.found, np.where(give_up, 0, exploring))

    def observe(self, t: int, actions: np.ndarray, rewards: np.ndarray) -> None:
        hit = (actions != 0) & (rewards > 0) & (self.found < 0)
        self.found[hit] = actions[hit]


class JackpotBanditEnv(gym.Env):
    """The Gymnasium twin: one episode, one pull per step. `reset(options={"jackpot": arm})` fixes it."""

    metadata = {"render_modes": []}

    def __init__(self, arms: int = 4, trials: int = 50, safe_reward: float = 0.5, jackpot_reward: float = 5.0,
                 jackpot_probability: float = 0.2):
        self.task = JackpotBanditTask(arms=arms, trials=trials, safe_reward=safe_reward,
                                      jackpot_reward=jackpot_reward, jackpot_probability=jackpot_probability)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(arms)
        self.jackpot, self.t = 1, 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t / self.task.trials], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.jackpot = int(options["jackpot"]) if options and "jackpot" in options \
            else int(self.np_random.integers(1, self.task.arms))
        self.t = 0
        return self._obs(), {"jackpot": self.jackpot}

    def step(self, action):
        action, task = int(action), self.task
        if action == 0:
            reward = task.safe_reward
        elif action == self.jackpot and self.np_random.random() < task.jackpot_probability:
            reward = task.jackpot_reward
        else:
            reward = 0.0
        self.t += 1
        return self._obs(), float(reward), self.t >= task.trials, False, {}
