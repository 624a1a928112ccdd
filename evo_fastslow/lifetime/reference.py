"""The held-out test episodes of a lifetime, and the reference baselines played on the very same ones."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from evo_fastslow.seeds import derive_seed, numpy_generator
from evo_fastslow.suite import FitnessSuite
from evo_fastslow.tasks import Episodes, Task, run_policy

TEST_CHUNK = 1000  # test episodes played at once when episodes do not form streams


def test_batches(suite: FitnessSuite, task: Task, task_seed: int) -> Iterator[tuple[int, Episodes, bool]]:
    """(batch size, episodes, whether these start new streams) for the suite's test.

    With `test.streams` set, that many parallel streams each play their episodes in sequence (so a
    memory that persists across episodes can be tested); otherwise episodes come in fresh chunks."""
    rng = numpy_generator(task_seed, "test-tasks")
    total, streams = suite.test.episodes, suite.test.streams
    if streams:
        source = task.streams(streams, rng)
        for index in range(max(1, total // streams)):
            yield streams, source.next(rng), index == 0
        return
    for start in range(0, total, TEST_CHUNK):
        batch = min(TEST_CHUNK, total - start)
        yield batch, task.sample(batch, rng), True


class TestTally:
    """The test's figures, computed the same way for the agent and for every baseline."""

    def __init__(self) -> None:
        self.rollouts: list[tuple[Episodes, np.ndarray, np.ndarray]] = []
        self._expected: list[np.ndarray] = []  # [B] expected episode reward of the actions taken
        self._oracle: list[np.ndarray] = []
        self._random: list[np.ndarray] = []

    def add(self, episodes: Episodes, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.rollouts.append((episodes, actions, rewards))
        self._expected.append(episodes.expected_rewards(actions).sum(0, dtype=np.float64))
        self._oracle.append(episodes.oracle_reward().astype(np.float64))
        self._random.append(episodes.random_reward())

    def figures(self, task: Task) -> dict[str, Any]:
        reward = np.concatenate([r for _, _, r in self.rollouts], axis=1).astype(np.float64)  # [T, episodes]
        expected, oracle = np.concatenate(self._expected), np.concatenate(self._oracle)
        random_total = np.concatenate(self._random).mean()
        return {"test_regret": float((oracle - expected).mean()),
                "test_reward_per_trial": reward.mean(axis=1).tolist(),
                "test_mean_reward": float(reward.mean()),
                "normalized_score": float((expected.mean() - random_total) / (oracle.mean() - random_total)),
                "analysis": task.analyse(self.rollouts)}


def baseline_results(suite: FitnessSuite, task_seed: int) -> dict[str, dict[str, Any]]:
    """Each baseline's test figures (regret, reward per step, normalised score, the task's analysis)
    on the lifetime's test episodes."""
    task = suite.build_task()
    results = {}
    for name, make in task.baselines().items():
        policy, tally = make(), TestTally()
        for i, (batch, episodes, _) in enumerate(test_batches(suite, task, task_seed)):
            tally.add(episodes, *run_policy(task, episodes, batch, policy, derive_seed(task_seed, "baseline", name, i)))
        results[name] = tally.figures(task)
    return results
