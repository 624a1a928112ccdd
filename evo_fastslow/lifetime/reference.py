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


def baseline_results(suite: FitnessSuite, task_seed: int) -> dict[str, dict[str, Any]]:
    """Each baseline's mean test regret, reward per step and the task's analysis, on the test episodes."""
    task = suite.build_task()
    results = {}
    for name, make in task.baselines().items():
        policy = make()
        regret, reward, count, rollouts = 0.0, 0.0, 0, []
        for i, (batch, episodes, _) in enumerate(test_batches(suite, task, task_seed)):
            actions, rewards = run_policy(task, episodes, batch, policy, derive_seed(task_seed, "baseline", name, i))
            regret += float((episodes.oracle_reward() - episodes.expected_rewards(actions).sum(0, dtype=np.float64)).sum())
            reward += float(rewards.mean(0, dtype=np.float64).sum())
            count += batch
            rollouts.append((episodes, actions, rewards))
        results[name] = {"test_regret": regret / count, "test_mean_reward": reward / count,
                         "analysis": task.analyse(rollouts)}
    return results
