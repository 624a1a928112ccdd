"""studies/bandit-agent/regret_breakdown.py's arithmetic, against figures worked out by hand."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SPEC = importlib.util.spec_from_file_location(
    "regret_breakdown", Path(__file__).resolve().parents[1] / "studies/bandit-agent/regret_breakdown.py")
regret_breakdown = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(regret_breakdown)


def test_a_policy_that_always_pulls_arm_0_is_broken_down_by_hand():
    values = np.array([[0.9, 0.1], [0.2, 0.6], [0.5, 0.54]])  # gaps 0.8, 0.4, 0.04
    actions = np.zeros((20, 3), dtype=np.int64)
    found = regret_breakdown.breakdown(values, actions)
    per_pull = np.array([0.0, 0.4, 0.04])
    assert found["regret"] == pytest.approx(20 * per_pull.mean())
    assert found["by_window"] == pytest.approx([n * per_pull.mean() for n in (2, 3, 5, 10)])  # pulls 1-2, 3-5, ...
    assert sum(found["by_window"]) == pytest.approx(found["regret"])
    assert found["late_worse_share"] == pytest.approx(2 / 3)  # arm 0 is worse in two of three tasks
    assert found["episodes_by_gap"].tolist() == [1, 0, 0, 0, 1, 1]
    assert found["by_gap"][0] == pytest.approx(20 * 0.04) and found["by_gap"][4] == pytest.approx(20 * 0.4)
    assert found["by_gap"][5] == 0.0 and np.isnan(found["by_gap"][1])


def test_the_best_arm_every_pull_has_no_regret_anywhere():
    rng = np.random.default_rng(0)
    values = rng.random((50, 3))
    actions = np.repeat(values.argmax(1)[None, :], 10, axis=0)
    found = regret_breakdown.breakdown(values, actions)
    assert found["regret"] == 0.0 and found["late_worse_share"] == 0.0 and max(found["by_window"]) == 0.0
