"""Scientific claims, each against independent references on the same held-out tasks.

Full lifetimes of the reference genomes at the shipped suites' budgets (about a minute each on one
core); seeds fixed. Tolerances are the issue's: regret within 1.5x Thompson sampling's on independent
arms, below Thompson's on correlated arms (where a meta-learner can exploit p2 = 1 - p1), and a
feedforward core without meta-RL inputs far from both (regret above 8; random is about 16.7).
"""

import pytest

from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime import run_lifetime
from evo_fastslow.lifetime.reference import baseline_results
from evo_fastslow.suite import load_suite

SEED = 0


def _lifetime(genome_name, suite_name):
    genome = load_genome(f"populations/reference.json:{genome_name}")
    suite = load_suite(f"fitness/{suite_name}.yaml")
    result = run_lifetime(genome, suite, SEED)
    assert result.status == "ok"
    return result, baseline_results(suite, SEED)


@pytest.mark.slow
def test_meta_rl_lstm_learns_to_explore_independent_arms():
    result, baselines = _lifetime("wang2016-lstm", "bandit-independent")
    thompson = baselines["thompson"]["test_regret"]
    assert 2.5 < thompson < 3.1  # the reference itself is what the literature reports (2.78)
    assert result.test_regret <= 1.5 * thompson
    assert result.test_regret >= baselines["bayes-optimal"]["test_regret"] - 0.3  # nothing beats Bayes
    assert result.test_regret < baselines["ucb1"]["test_regret"]


@pytest.mark.slow
def test_meta_rl_lstm_exploits_correlated_arms_better_than_thompson():
    result, baselines = _lifetime("wang2016-lstm", "bandit-correlated")
    assert result.test_regret < baselines["thompson"]["test_regret"]
    assert result.test_regret >= baselines["bayes-optimal"]["test_regret"] - 0.3


@pytest.mark.slow
def test_feedforward_without_meta_inputs_cannot_adapt():
    result, baselines = _lifetime("feedforward-blind", "bandit-independent")
    assert result.test_regret > 8
    # it can do no better than the best fixed arm of the prior: regret ~ random's (16.7)
    assert result.test_regret > 0.8 * baselines["random"]["test_regret"]


# Seed 0's test regret of wang2016-lstm on bandit-independent through the Python path, measured at
# commit f9b21f8, before the fused kernel existed (3.15 in that session's note; 3.149 re-measured).
PINNED_PYTHON_REGRET = 3.149


@pytest.mark.slow
def test_the_fused_kernel_learns_what_the_python_path_learned(monkeypatch):
    """Same seed, both paths. The Python path reproduces its pinned regret (tolerance 0.02: BLAS
    rounding on another CPU). The fused path starts from the same weights and noise but drifts from the
    Python path's trajectory within a few updates (float32 rounding, then a flipped action), so it is a
    different training run of the same algorithm: its regret must lie within 0.5 of the pinned one,
    about 1.7 standard deviations of the seed-to-seed spread (seeds 0-4 fused: 3.37 3.00 3.68 2.93 3.40)."""
    fused_result, _ = _lifetime("wang2016-lstm", "bandit-independent")
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    python_result, _ = _lifetime("wang2016-lstm", "bandit-independent")
    assert python_result.test_regret == pytest.approx(PINNED_PYTHON_REGRET, abs=0.02)
    assert fused_result.test_regret == pytest.approx(PINNED_PYTHON_REGRET, abs=0.5)
