"""The lifetime: pure, deterministic, failure recorded as data."""

import math

import pytest
import torch

from evo_fastslow.agents import CORES, build_agent
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.lifetime import load_weights, run_lifetime
from evo_fastslow.lifetime import run as run_module
from evo_fastslow.lifetime.a2c import discount_matrix
from evo_fastslow.seeds import derive_seed


def _without_time(result):
    data = result.to_dict()
    data.pop("wall_seconds")
    return data


def test_same_genome_suite_and_seed_give_the_same_result_bit_for_bit(tiny_suite):
    genome = SEARCH_SPACE.default()
    first, second = run_lifetime(genome, tiny_suite, seed=11), run_lifetime(genome, tiny_suite, seed=11)
    assert first.status == "ok" and _without_time(first) == _without_time(second)
    assert _without_time(run_lifetime(genome, tiny_suite, seed=12)) != _without_time(first)


def test_result_fields(tiny_suite):
    genome = SEARCH_SPACE.default().with_genes(episodes_per_update=8)
    result = run_lifetime(genome, tiny_suite, seed=0)
    assert result.env_steps == 80 * 8 * 100 and result.updates == 80
    assert len(result.test_reward_per_trial) == 100 and len(result.learning_curve) == 80
    assert result.parameter_count == sum(p.numel() for p in torch.nn.LSTM(4, 48).parameters()) + 49 * 2 + 49
    assert 0 <= result.test_regret <= 100 and math.isfinite(result.normalized_score)


def test_task_seed_fixes_the_tasks_not_the_agent(tiny_suite):
    """Common random numbers: with one task seed, genomes differ only by what they are."""
    genome = SEARCH_SPACE.default()
    a = run_lifetime(genome, tiny_suite, seed=1, task_seed=100)
    b = run_lifetime(genome, tiny_suite, seed=2, task_seed=100)
    assert a.test_regret != b.test_regret  # different agents (init and action noise)


@pytest.mark.parametrize("kernel", ["auto", "off"])  # the fused path and the Python path
def test_a_non_finite_loss_is_recorded_as_diverged(tiny_suite, monkeypatch, kernel):
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", kernel)
    real = run_module.compute_gradients

    def poisoned(*args):
        rollout, parts = real(*args)
        parts.total = parts.total * float("nan")
        return rollout, parts

    monkeypatch.setattr(run_module, "compute_gradients", poisoned)
    result = run_lifetime(SEARCH_SPACE.default(), tiny_suite, seed=0)
    assert result.status == "diverged" and "non-finite loss" in result.reason
    assert tiny_suite.fitness(result) < -1e8 and math.isnan(result.test_regret)


def test_discounted_returns():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    returns = discount_matrix(3, 0.5) @ rewards
    assert torch.allclose(returns.squeeze(1), torch.tensor([1.0 + 0.5, 1.0, 2.0]))


def test_saved_weights_load_safely(tiny_suite, tmp_path):
    genome = SEARCH_SPACE.default().with_genes(episodes_per_update=64)
    path = tmp_path / "w.pt"
    run_lifetime(genome, tiny_suite, seed=0, save_weights=path)
    agent = load_weights(genome, tiny_suite.build_task(), path)
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(agent.state_dict()[k], v) for k, v in saved.items())
    untrained = build_agent(genome, 1, 2, derive_seed(0, "init"))
    assert not torch.equal(untrained.policy.weight, agent.policy.weight)  # training moved the weights


@pytest.mark.parametrize("core", list(CORES))
@pytest.mark.parametrize("optimizer", SEARCH_SPACE.genes["optimizer"].choices)
def test_every_core_and_optimizer_lives_a_lifetime(tiny_suite, core, optimizer):
    genome = SEARCH_SPACE.default().with_genes(core=core, optimizer=optimizer, episodes_per_update=32)
    result = run_lifetime(genome, tiny_suite, seed=0)
    assert result.status == "ok" and result.updates == 20 and math.isfinite(result.test_regret)
