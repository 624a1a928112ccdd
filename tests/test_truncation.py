"""Updates within an episode (lifetime/truncated.py): the same bits in both engines in the reproducible
mode, stretches that add up to the episode, a loss held to a float64 reference with the bootstrap, an
intrinsic bonus carried across the cuts, and the genomes it cannot serve refused by name."""

import numpy as np
import pytest
import torch

from evo_fastslow.agents import build_agent
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime import fused, intrinsic, run_lifetime, truncated
from evo_fastslow.lifetime.a2c import act, make_optimizer
from evo_fastslow.lifetime.schedule import update_settings
from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.two_step import TwoStepTask
from references import KNOBS, reference_loss, small_suite

REFERENCE = load_genome("populations/reference.json:wang2016-lstm").with_genes(episodes_per_update=16)


def _without_time(result):
    data = result.to_dict()
    data.pop("wall_seconds"), data.pop("engine")
    return data


def _both_engines(genome, suite, monkeypatch, seed=5):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", "reproducible")
    fast = run_lifetime(genome, suite, seed=seed)
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    slow = run_lifetime(genome, suite, seed=seed)
    monkeypatch.delenv("EVO_FASTSLOW_KERNEL")
    assert (fast.engine, slow.engine, fast.status, slow.status) == ("fused", "python", "ok", "ok")
    return fast, slow


@pytest.mark.parametrize("core", ["lstm", "gru"])
@pytest.mark.parametrize("suite_name,steps", [("bandit-independent", 32_000), ("two-step", 20_000)])
def test_a_truncated_lifetime_is_the_same_in_both_engines(core, suite_name, steps, monkeypatch):
    """Two-step carries the task's state across a cut (three states); the bandit one state."""
    suite = small_suite(suite_name, steps=steps, episodes=100)
    genome = REFERENCE.with_genes(core=core, truncation=7, **KNOBS)
    fast, slow = _both_engines(genome, suite, monkeypatch)
    assert _without_time(fast) == _without_time(slow)
    whole, _ = _both_engines(genome.with_genes(truncation=0), suite, monkeypatch)
    assert _without_time(fast) != _without_time(whole)


def test_a_stretch_as_long_as_the_episode_is_a_whole_episode_update(monkeypatch):
    suite = small_suite(steps=32_000, episodes=100)
    for truncation in (100, 1000):  # the bandit's episodes have 100 steps
        fast, slow = _both_engines(REFERENCE.with_genes(truncation=truncation), suite, monkeypatch)
        whole, _ = _both_engines(REFERENCE, suite, monkeypatch)
        assert _without_time(fast) == _without_time(slow) == _without_time(whole)


@pytest.mark.parametrize("numerics", ["reproducible", "native"])
@pytest.mark.parametrize("task", [BanditTask(arms=3, trials=20), TwoStepTask(trials=9)], ids=["bandit", "two-step"])
@pytest.mark.parametrize("lam", [1.0, 0.8])
def test_stretches_with_frozen_weights_add_up_to_the_episode(numerics, task, lam, monkeypatch):
    """Weights held (no optimizer step): each stretch's actions are the whole episode's, and its loss is
    the float64 reference loss of the whole episode's heads over the stretch, bootstrapped from the whole
    episode's value one step past it (1e-5 absolute: float32 sums against float64)."""
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", numerics)
    batch = 6
    genome = REFERENCE.with_genes(episodes_per_update=batch, truncation=4, gae_lambda=lam)
    settings = update_settings(genome)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=1)
    whole = act(agent, task, task.sample(batch, np.random.default_rng(2)), batch, np.random.default_rng(3))
    with torch.no_grad():
        logits, values = agent.replay(torch.from_numpy(whole.inputs), agent.initial_state(batch), None)
    heads = torch.cat([logits, values.unsqueeze(-1)], -1).numpy()
    plays = {"fused": truncated._KernelStretches(agent, task.sample(batch, np.random.default_rng(2)), genome, batch,
                                                 np.random.default_rng(3), settings),
             "python": truncated._PythonStretches(agent, task, task.sample(batch, np.random.default_rng(2)), batch,
                                                  np.random.default_rng(3), settings)}
    for name, play in plays.items():
        for start, stop in truncated.stretches(task.steps, 4):
            rollout, loss = play.stretch(start, stop)
            assert np.array_equal(rollout.actions, whole.actions[start:stop]), (name, start)
            assert np.array_equal(rollout.rewards, whole.rewards[start:stop]), (name, start)
            expected = reference_loss(heads[start:stop], rollout.actions, rollout.rewards, settings.discount,
                                      settings.value_cost, settings.entropy_cost, lam, False,
                                      bootstrap=values[stop].numpy() if stop < task.steps else None)
            got = (loss.total.item(), loss.policy, loss.value, loss.entropy)
            assert got == pytest.approx(expected, abs=1e-5), (name, start)
            assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in agent.parameters())


def test_more_updates_per_env_step_and_the_same_budget():
    suite = small_suite(steps=32_000, episodes=100)
    result = run_lifetime(REFERENCE.with_genes(truncation=25), suite, seed=0)
    assert result.status == "ok" and result.env_steps == 32_000 == run_lifetime(REFERENCE, suite, seed=0).env_steps
    assert truncated.stretches(100, 25) == [(0, 25), (25, 50), (50, 75), (75, 100)]
    assert truncated.stretches(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_genomes_it_cannot_serve_are_refused_by_name():
    with pytest.raises(ValueError, match="truncation > 0 .* needs episodic_memory off"):
        run_lifetime(REFERENCE.with_genes(truncation=10, episodic_memory="value"), small_suite(steps=8_000), seed=0)


@pytest.mark.parametrize("kind", ["novelty", "surprise", "information"])
@pytest.mark.parametrize("suite_name,steps", [("bandit-independent", 32_000), ("two-step", 20_000)])
def test_an_intrinsic_bonus_within_episodes_is_the_same_in_both_engines(kind, suite_name, steps, monkeypatch):
    """The kernel adds the bonus from counts it carries across the cuts; the Python path recomputes it
    from the episode so far (lifetime/intrinsic.py): the same float64 operations, the same lifetime."""
    suite = small_suite(suite_name, steps=steps, episodes=100)
    genome = REFERENCE.with_genes(core="gru", truncation=7, intrinsic=kind, intrinsic_weight=0.3, **KNOBS)
    fast, slow = _both_engines(genome, suite, monkeypatch)
    assert _without_time(fast) == _without_time(slow)
    plain, _ = _both_engines(genome.with_genes(intrinsic="none"), suite, monkeypatch)
    assert _without_time(fast) != _without_time(plain)  # the bonus changed what was learned
    whole = _both_engines(genome.with_genes(truncation=0), suite, monkeypatch)  # and whole-episode updates
    assert _without_time(whole[0]) == _without_time(whole[1])


def test_a_stretch_trains_on_the_bonus_the_whole_episode_gets(monkeypatch):
    """Stretch by stretch, the loss's rewards are the task's plus intrinsic.bonus of the whole episode."""
    seen = []
    original = truncated.loss_of
    monkeypatch.setattr(truncated, "loss_of", lambda *args: seen.append(args[2].rewards) or original(*args))
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    task = BanditTask(arms=2, trials=50)
    genome = REFERENCE.with_genes(core="gru", truncation=20, intrinsic="novelty", intrinsic_weight=0.5)
    agent = build_agent(genome, task.obs_dim, task.n_actions, 0)
    optimizer = make_optimizer(agent, genome)
    rollout, _, _ = truncated.train_batch(agent, task, task.sample(4, np.random.default_rng(1)), genome, 4,
                                          np.random.default_rng(2), optimizer, update_settings(genome), False)
    whole = intrinsic.bonus("novelty", 0.5, rollout.actions, rollout.rewards, 2)
    assert len(seen) == 3 and whole[20:].min() < whole[:20].max()  # counts carried across the cuts matter
    np.testing.assert_array_equal(np.concatenate(seen), rollout.rewards + whole)
    assert set(np.unique(rollout.rewards)) <= {0.0, 1.0}  # the rollout keeps the task's rewards
