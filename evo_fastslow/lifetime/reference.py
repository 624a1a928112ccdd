"""Reference baselines on the very test tasks a lifetime is scored on (same task seed, same chunks)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from evo_fastslow.seeds import derive_seed, numpy_generator
from evo_fastslow.suite import FitnessSuite
from evo_fastslow.tasks import Episodes, Task, run_policy

TEST_CHUNK = 1000  # test episodes played at once


def test_batches(task: Task, episodes: int, task_seed: int) -> Iterator[tuple[int, Episodes]]:
    """The held-out test episodes of a lifetime, in chunks: (batch size, episodes)."""
    rng = numpy_generator(task_seed, "test-tasks")
    for start in range(0, episodes, TEST_CHUNK):
        batch = min(TEST_CHUNK, episodes - start)
        yield batch, task.sample(batch, rng)


def baseline_results(suite: FitnessSuite, task_seed: int) -> dict[str, dict[str, float]]:
    """Each baseline's mean test regret and reward per trial on the lifetime's test tasks."""
    task = suite.build_task()
    results = {}
    for name, make in task.baselines().items():
        policy = make()
        regret, reward, count = 0.0, 0.0, 0
        for i, (batch, episodes) in enumerate(test_batches(task, suite.test.episodes, task_seed)):
            actions, rewards = run_policy(task, episodes, batch, policy, derive_seed(task_seed, "baseline", name, i))
            regret += float((episodes.oracle_reward() - episodes.expected_rewards(actions).sum(0, dtype=np.float64)).sum())
            reward += float(rewards.mean(0, dtype=np.float64).sum())
            count += batch
        results[name] = {"test_regret": regret / count, "test_mean_reward": reward / count}
    return results
