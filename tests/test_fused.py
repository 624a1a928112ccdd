"""The fused lifetime kernel against the Python path it replaces, and the fallback between them.

In the reproducible numerics mode both paths run the same deterministic arithmetic in the same order
(the kernel's cell code, loss and optimizer), so they are compared exactly: one update's gradients bit
for bit, and whole lifetimes. In the native mode (ATen's BLAS) they sum in different orders: one
update's actions and rewards are equal (logits agree to ~1e-7, an argmax flips only on a near tie),
loss parts within 1e-5 and gradients within 1e-6 + 1e-4 relative; over a lifetime they drift apart.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from evo_fastslow.agents import build_agent
from evo_fastslow.errors import InputError
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime import fused, run_lifetime
from evo_fastslow.lifetime.a2c import a2c_loss, act, discount_matrix
from evo_fastslow.numerics import build, ops
from evo_fastslow.suite import load_suite
from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.harlow import HarlowTask
from evo_fastslow.tasks.base import Task
from evo_fastslow.tasks.recurring import RecurringBanditTask
from evo_fastslow.tasks.two_step import TwoStepTask

REFERENCE = load_genome("populations/reference.json:wang2016-lstm")


@pytest.fixture
def python_path(monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")


def test_the_kernel_builds_on_this_machine():
    assert fused.kernel_available(), "gcc and ninja are on every machine of this kind"


def _python_update(agent, task, episodes, genome, batch, seed):
    rollout = act(agent, task, episodes, batch, np.random.default_rng(seed))
    loss = a2c_loss(agent, rollout, genome, discount_matrix(task.steps, genome["discount"]))
    agent.zero_grad(set_to_none=True)
    loss.total.backward()
    return rollout, loss, {name: p.grad.clone() for name, p in agent.named_parameters()}


@pytest.mark.parametrize("numerics", ["reproducible", "native"])
@pytest.mark.parametrize("core", ["lstm", "gru"])
@pytest.mark.parametrize("meta", ["action_reward", "reward", "none"])
@pytest.mark.parametrize("task,hidden,batch", [
    (BanditTask(arms=2, trials=30), 48, 16),
    (BanditTask(arms=5, trials=30), 13, 7),
    (RecurringBanditTask(arms=3, trials=10, context_dim=5), 20, 9),  # 6 observation columns
    (HarlowTask(trials=6, object_dim=4), 16, 8),
    (TwoStepTask(trials=12), 24, 8),  # three states
], ids=["bandit-2", "bandit-5", "recurring", "harlow", "two-step"])
def test_one_update_equals_the_python_path(numerics, core, meta, task, hidden, batch, monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", numerics)
    genome = REFERENCE.with_genes(core=core, meta_inputs=meta, hidden_size=hidden, episodes_per_update=batch,
                                  entropy_cost=0.05)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=3)
    episodes = task.sample(batch, np.random.default_rng(4))
    rollout, loss, grads = _python_update(agent, task, episodes, genome, batch, seed=5)
    agent.zero_grad(set_to_none=True)
    fused_rollout, fused_loss = fused.update(agent, episodes, genome, batch, np.random.default_rng(5))
    assert np.array_equal(rollout.actions, fused_rollout.actions)
    assert np.array_equal(rollout.rewards, fused_rollout.rewards)
    if numerics == "reproducible":  # the same arithmetic in the same order: the same bits
        assert [getattr(fused_loss, p) for p in ("policy", "value", "entropy")] == \
               [getattr(loss, p) for p in ("policy", "value", "entropy")]
        for name, parameter in agent.named_parameters():
            assert torch.equal(parameter.grad, grads[name]), name
        return
    for part in ("policy", "value", "entropy"):
        assert getattr(fused_loss, part) == pytest.approx(getattr(loss, part), abs=1e-5)
    assert fused_loss.total.item() == pytest.approx(loss.total.item(), abs=1e-5)
    for name, parameter in agent.named_parameters():
        assert parameter.grad is not None and parameter.grad.shape == parameter.shape, name
        torch.testing.assert_close(parameter.grad, grads[name], atol=1e-6, rtol=1e-4, msg=name)


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_acting_with_frozen_weights_equals_the_python_path(core):
    task = BanditTask(arms=3)
    agent = build_agent(REFERENCE.with_genes(core=core), task.obs_dim, task.n_actions, seed=0)
    episodes = task.sample(32, np.random.default_rng(1))
    expected = act(agent, task, episodes, 32, np.random.default_rng(2))
    got = fused.act(agent, episodes, 32, np.random.default_rng(2))
    assert np.array_equal(expected.actions, got.actions) and np.array_equal(expected.rewards, got.rewards)
    assert all(p.grad is None for p in agent.parameters())  # acting leaves no gradients


SUITES = ["bandit-independent", "bandit-correlated", "two-step", "harlow", "recurring-contextual-bandits"]


@pytest.mark.parametrize("suite", SUITES)
def test_tables_are_what_stepping_gives(suite):
    task = load_suite(f"fitness/{suite}.yaml").build_task().model_copy(update={"trials": 20})
    episodes, rows = task.sample(6, np.random.default_rng(0)), np.arange(6)
    assert task.tabular
    tables = episodes.tables()
    for checked in (tables, task.sample(1, np.random.default_rng(0)).tables()):
        assert all(a.flags.c_contiguous and a.flags.writeable for a in checked)  # as the kernel takes them
    obs, reward, next_state = tables
    states = obs.shape[2]
    assert obs.shape == (task.steps, 6, states, task.obs_dim)
    assert reward.shape == next_state.shape == (task.steps, 6, states, task.n_actions)
    actions = np.random.default_rng(1).integers(0, task.n_actions, size=(task.steps, 6))
    state = np.zeros(6, np.int64)
    assert np.array_equal(obs[0, rows, state], episodes.first_obs)
    for t in range(task.steps):
        stepped_reward, stepped_obs = episodes.step(t, actions[t])
        assert np.array_equal(reward[t, rows, state, actions[t]], stepped_reward)
        state = next_state[t, rows, state, actions[t]]
        if t + 1 < task.steps:
            assert np.array_equal(obs[t + 1, rows, state], stepped_obs)


def test_the_fused_path_is_taken_only_where_it_fits(tiny_suite):
    bandit = BanditTask()
    fits = {core: fused.fits(build_agent(REFERENCE.with_genes(core=core), 1, 2, 0), bandit)
            for core in ("lstm", "gru", "feedforward")}
    assert fits == {"lstm": True, "gru": True, "feedforward": False}
    for memory in ("value", "reinstate"):
        assert not fused.fits(build_agent(REFERENCE.with_genes(episodic_memory=memory), 1, 2, 0), bandit)
    for name in SUITES:
        task = load_suite(f"fitness/{name}.yaml").build_task()
        assert fused.fits(build_agent(REFERENCE, task.obs_dim, task.n_actions, 0), task)
    assert not fused.fits(build_agent(REFERENCE, 1, 2, 0), Task.model_construct())  # not tabular
    assert run_lifetime(REFERENCE, tiny_suite, seed=0).engine == "fused"
    assert run_lifetime(REFERENCE.with_genes(core="feedforward"), tiny_suite, seed=0).engine == "python"


def test_the_scheduler_prices_as_fused_exactly_the_genomes_the_kernel_takes(tiny_suite):
    """expected_cost (the plan's and the scheduler's) gives the fused kernel's discount to a genome only where
    `fits` takes it: an encoder or episodic memory sends a recurrent core down the Python path."""
    from evo_fastslow.lifetime import expected_cost

    task = tiny_suite.build_task()
    plain = expected_cost(dict(REFERENCE.genes), tiny_suite)
    for changes in ({"encoder": "mlp"}, {"encoder": "conv"}, {"episodic_memory": "reinstate"}):
        genome = REFERENCE.with_genes(**changes)
        assert not fused.fits(build_agent(genome, task.obs_dim, task.n_actions, 0, task.view_shape), task)
        assert expected_cost(dict(genome.genes), tiny_suite) == pytest.approx(plain / 0.45)
    assert fused.fits(build_agent(REFERENCE, task.obs_dim, task.n_actions, 0), task)


def _without_time(result):
    data = result.to_dict()
    data.pop("wall_seconds")
    return data


@pytest.mark.parametrize("numerics", ["reproducible", "native"])
@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_each_path_is_deterministic_and_both_start_alike(tiny_suite, monkeypatch, numerics, core):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", numerics)
    genome = REFERENCE.with_genes(core=core, episodes_per_update=16)
    fast = [_without_time(run_lifetime(genome, tiny_suite, seed=7)) for _ in range(2)]
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    slow = [_without_time(run_lifetime(genome, tiny_suite, seed=7)) for _ in range(2)]
    assert fast[0] == fast[1] and slow[0] == slow[1]
    assert fast[0]["status"] == slow[0]["status"] == "ok" and fast[0]["updates"] == slow[0]["updates"]
    assert (fast[0].pop("engine"), slow[0].pop("engine")) == ("fused", "python")
    if numerics == "reproducible":  # one arithmetic: the whole lifetime is the same, bit for bit
        assert fast[0] == slow[0]
        return
    # native: the first update's reward is the same (same noise, same initial weights), then the two
    # drift apart like two training runs of one algorithm
    assert fast[0]["learning_curve"][0] == slow[0]["learning_curve"][0]
    assert fast[0]["test_regret"] == pytest.approx(slow[0]["test_regret"], abs=1.0)


def test_the_python_path_runs_when_the_kernel_is_off(tiny_suite, python_path, monkeypatch):
    monkeypatch.setattr(fused, "_run", lambda *a, **k: pytest.fail("the kernel ran with EVO_FASTSLOW_KERNEL=off"))
    result = run_lifetime(REFERENCE, tiny_suite, seed=0)
    assert result.status == "ok" and math.isfinite(result.test_regret) and result.engine == "python"


def test_a_failed_build_falls_back_with_a_warning_or_fails_when_required(tiny_suite, monkeypatch):
    """Native numerics fall back to the Python path (NumPy and torch); the reproducible mode needs the
    built kernels on either path, so there the lifetime fails, naming why (evaluate() records it)."""
    def no_compiler():
        raise OSError("no C++ compiler")

    monkeypatch.setattr(build, "_build", no_compiler)
    monkeypatch.setattr(build, "_state", {})
    monkeypatch.setattr(ops, "_loaded", None)
    monkeypatch.setattr(fused, "_built", None)
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", "native")
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        assert not fused.kernel_available()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per process, not per update
        result = run_lifetime(REFERENCE, tiny_suite, seed=0)
    assert result.status == "ok" and result.engine == "python"
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", "reproducible")
    with pytest.raises(RuntimeError, match="kernels could not be built: no C\\+\\+ compiler"):
        run_lifetime(REFERENCE, tiny_suite, seed=0)
    monkeypatch.setattr(fused, "_built", None)
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "require")
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
        fused.kernel_available()


def test_an_unknown_kernel_mode_is_named(monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "fast")
    with pytest.raises(InputError, match="EVO_FASTSLOW_KERNEL='fast'.*auto, off, require"):
        fused.kernel_mode()


def test_the_kernel_refuses_shapes_that_do_not_fit():
    assert fused.kernel_available()
    T, B, S, k, H = 5, 3, 2, 2, 4
    obs, table, heads = torch.zeros(T, B, S, 1), torch.zeros(T, B, S, k), (torch.zeros(k + 1, H), torch.zeros(k + 1))
    weights = torch.zeros(1 + 1 + H, 4 * H)  # rows for the observation, the bias and h: none for an action one-hot

    def call(action_col=-1, gumbel=torch.zeros(T, B, k), next_state=torch.ones(T, B, S, k, dtype=torch.long),
             start=0, steps=T, carry=fused.Carry.start(B, H, k), bonus=0):
        torch.ops.evo_fastslow.recurrent_a2c(torch.empty(0), 0, weights, *heads, obs, table, next_state, gumbel,
                                             action_col, -1, 0.9, 0.1, 0.1, 1.0, False, True, False, start, steps,
                                             carry.h, carry.c, carry.state, carry.action, carry.reward, bonus, 0.1,
                                             carry.counts, carry.earned)

    call()  # fits
    call(start=2, steps=3)  # a stretch that ends with the episodes
    with pytest.raises(RuntimeError, match="must lie in 0 .. T-1"):
        call(start=3, steps=3)
    with pytest.raises(RuntimeError, match="carry_h, carry_c"):
        call(carry=fused.Carry.start(B, H + 1, k))
    with pytest.raises(RuntimeError, match="carry_counts"):
        call(carry=fused.Carry.start(B, H, k + 1))
    with pytest.raises(RuntimeError, match="bonus_kind"):
        call(bonus=4)
    with pytest.raises(RuntimeError, match="do not fit"):
        call(action_col=1)
    with pytest.raises(RuntimeError, match="reward_table and gumbel"):
        call(gumbel=torch.zeros(T, B, k + 1))
    with pytest.raises(RuntimeError, match="next_state must name states"):
        call(next_state=torch.full((T, B, S, k), S, dtype=torch.long))
