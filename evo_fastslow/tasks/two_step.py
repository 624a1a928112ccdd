"""The two-step task (Daw et al. 2011), as used in Wang et al. 2018, "Prefrontal cortex as a
meta-reinforcement learning system".

Each trial is two env steps. Stage 1 (observation: state 0): action 0 or 1 leads to second-stage
state 1 or 2 by a common (0.8) or rare (0.2) transition (action 0 commonly to state 1). Stage 2: any
action collects a reward with the state's probability, 0.9 in the better state and 0.1 in the
other; which state is better swaps with probability 0.025 per trial. Observation: one-hot state
(3) and the fraction of the episode elapsed.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import Field

from evo_fastslow.tasks.base import Policy, Tables, Task


def _transition(common: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The second-stage state (0 or 1) a stage-1 action leads to: its own on a common transition."""
    return np.where(common, actions, 1 - actions)


class TwoStepEpisodes:
    def __init__(self, task: "TwoStepTask", batch: int, rng: np.random.Generator):
        trials, steps = task.trials, 2 * task.trials
        self.task, self.batch, self.rows = task, batch, np.arange(batch)
        better = np.empty((trials, batch), np.int64)  # which second-stage state (0: state 1, 1: state 2) is better
        better[0] = rng.integers(0, 2, batch)
        swaps = rng.random((trials, batch)) < task.swap_probability
        for t in range(1, trials):
            better[t] = better[t - 1] ^ swaps[t]
        self.better = better
        self.common = rng.random((trials, batch)) < task.common_probability  # [trials, B]
        self.noise = rng.random((trials, batch), dtype=np.float32)
        self.second_state = np.zeros((trials, batch), np.int64)  # filled while stepping: 0 or 1
        fraction = np.arange(steps + 1, dtype=np.float32) / steps
        self._obs = np.zeros((steps + 1, batch, 4), np.float32)
        self._obs[:, :, 3] = fraction[:, None]
        self._obs[0::2, :, 0] = 1.0                              # stage 1 at even steps
        self.first_obs = self._obs[0]

    def step(self, t: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        trial = t // 2
        if t % 2 == 0:  # stage 1: transition
            state = _transition(self.common[trial], actions)
            self.second_state[trial] = state
            obs = self._obs[t + 1]
            obs[:, 1:3] = 0.0
            obs[self.rows, 1 + state] = 1.0
            return np.zeros(self.batch, np.float32), obs
        probs = self._probs(self.second_state[trial], self.better[trial])
        return (self.noise[trial] < probs).astype(np.float32), self._obs[t + 1]

    def tables(self) -> Tables:
        """States: 0 = stage 1, 1 and 2 = the second-stage states (observed as the one-hot of the state)."""
        steps, batch = 2 * self.task.trials, self.batch
        obs = np.repeat(self._obs[:steps, :, None], 3, axis=2)
        obs[:, :, :, :3] = np.eye(3, dtype=np.float32)
        reward = np.zeros((steps, batch, 3, 2), np.float32)
        next_state = np.zeros((steps, batch, 3, 2), np.int64)  # stage 2 -> stage 1
        next_state[0::2, :, 0] = 1 + _transition(self.common[..., None], np.arange(2))
        for second in (0, 1):
            reward[1::2, :, 1 + second] = (self.noise < self._probs(second, self.better))[..., None]
        return Tables(obs, reward, next_state)

    def _probs(self, second_state: np.ndarray | int, better: np.ndarray) -> np.ndarray:
        """Reward probability in a second-stage state (0 or 1), given which one is better."""
        good, bad = self.task.reward_probabilities
        return np.where(second_state == better, good, bad).astype(np.float32)

    def expected_rewards(self, actions: np.ndarray) -> np.ndarray:
        """Per step: 0 at stage 1; at stage 2 the expected reward the stage-1 choice earned."""
        good, bad = self.task.reward_probabilities
        p_common = self.task.common_probability
        first = actions[0::2]
        p_good = np.where(first == self.better, p_common, 1.0 - p_common)
        expected = np.zeros(actions.shape, np.float64)
        expected[1::2] = p_good * good + (1.0 - p_good) * bad
        return expected

    def oracle_reward(self) -> np.ndarray:
        good, bad = self.task.reward_probabilities
        p = self.task.common_probability
        return np.full(self.batch, self.task.trials * (p * good + (1 - p) * bad))

    def random_reward(self) -> np.ndarray:
        good, bad = self.task.reward_probabilities
        return np.full(self.batch, self.task.trials * (good + bad) / 2)


class TwoStepTask(Task):
    kind: ClassVar[str] = "two-step"
    tabular: ClassVar[bool] = True  # three states: stage 1 and the two second-stage states
    trials: int = Field(100, ge=2, le=10_000, description="trials per episode (two env steps each)")
    common_probability: float = Field(0.8, gt=0.5, lt=1.0)
    reward_probabilities: tuple[float, float] = (0.9, 0.1)
    swap_probability: float = Field(0.025, ge=0.0, le=1.0, description="chance per trial that the better state swaps")

    @property
    def steps(self) -> int:
        return 2 * self.trials

    @property
    def obs_dim(self) -> int:
        return 4

    @property
    def n_actions(self) -> int:
        return 2

    def sample(self, batch: int, rng: np.random.Generator) -> TwoStepEpisodes:
        return TwoStepEpisodes(self, batch, rng)

    def baselines(self) -> dict[str, Callable[[], Policy]]:
        from evo_fastslow.tasks.two_step_baselines import (ModelBasedPolicy, ModelFreePolicy, OraclePolicy,
                                                           RandomPolicy)

        return {"random": RandomPolicy, "oracle": OraclePolicy,
                "model-free": lambda: ModelFreePolicy(self), "model-based": lambda: ModelBasedPolicy(self)}

    def analyse(self, rollouts: list) -> dict:
        """Stay probabilities after rewarded/unrewarded x common/rare trials and the reward x transition
        interaction (the model-based signature, Daw et al. 2011).

        With reward probabilities as far apart as 0.9/0.1, a learner that merely prefers the better
        action shows an interaction too: rewarded-rare trials mostly follow its less preferred choice
        (Akam et al. 2015). `corrected_interaction` removes that: the interaction within trials whose
        choice was, then within trials whose choice was not, the one commonly leading to the better
        state, averaged over the two."""
        cells: dict[tuple, list[int]] = {}
        for episodes, actions, rewards in rollouts:
            first, reward = actions[0::2], rewards[1::2] > 0
            stay = first[1:] == first[:-1]
            correct = first[:-1] == episodes.better[:-1]
            for r in (True, False):
                for c in (True, False):
                    for k in (True, False):
                        mask = (reward[:-1] == r) & (episodes.common[:-1] == c) & (correct == k)
                        total = cells.setdefault((r, c, k), [0, 0])
                        total[0] += int(stay[mask].sum())
                        total[1] += int(mask.sum())

        def p(r: bool, c: bool, ks: tuple = (True, False)) -> float:
            stays, n = (sum(cells[(r, c, k)][i] for k in ks) for i in (0, 1))
            return stays / n if n else float("nan")

        def interaction(ks: tuple) -> float:
            return (p(True, True, ks) - p(True, False, ks)) - (p(False, True, ks) - p(False, False, ks))

        table = {"rewarded_common": p(True, True), "rewarded_rare": p(True, False),
                 "unrewarded_common": p(False, True), "unrewarded_rare": p(False, False)}
        reward_effect = (table["rewarded_common"] + table["rewarded_rare"]
                         - table["unrewarded_common"] - table["unrewarded_rare"]) / 2
        return {"stay_probability": table, "reward_effect": reward_effect,
                "reward_x_transition": interaction((True, False)),
                "corrected_interaction": (interaction((True,)) + interaction((False,))) / 2}


class TwoStepEnv(gym.Env):
    """Gymnasium twin of TwoStepTask: one episode, one env step at a time (two per trial)."""

    metadata = {"render_modes": []}

    def __init__(self, trials: int = 100, common_probability: float = 0.8,
                 reward_probabilities: tuple[float, float] = (0.9, 0.1), swap_probability: float = 0.025):
        self.task = TwoStepTask(trials=trials, common_probability=common_probability,
                                reward_probabilities=tuple(reward_probabilities), swap_probability=swap_probability)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(4, np.float32)
        obs[0 if self.stage == 0 else 1 + self.state] = 1.0
        obs[3] = self.t / self.task.steps
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t, self.stage, self.state = 0, 0, 0
        self.better = int(self.np_random.integers(0, 2))
        if options and "better" in options:
            self.better = int(options["better"])
        return self._obs(), {"better": self.better}

    def step(self, action):
        reward, info = 0.0, {}
        if self.stage == 0:
            common = self.np_random.random() < self.task.common_probability
            self.state = int(action) if common else 1 - int(action)
            self.stage, info = 1, {"common": bool(common)}
        else:
            good, bad = self.task.reward_probabilities
            p = good if self.state == self.better else bad
            reward = float(self.np_random.random() < p)
            if self.np_random.random() < self.task.swap_probability:
                self.better = 1 - self.better
            self.stage = 0
        self.t += 1
        return self._obs(), reward, self.t >= self.task.steps, False, info
