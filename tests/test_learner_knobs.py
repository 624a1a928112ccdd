"""The learner's knobs (lifetime/schedule.py and the loss's GAE lambda and advantage normalisation):
held to an independent NumPy reference of the loss, equal in both engines (bit for bit in the
reproducible numerics mode), and the defaults leave a lifetime exactly as it was."""

import numpy as np
import pytest
import torch

from evo_fastslow.agents import build_agent
from evo_fastslow.lifetime import fused, run_lifetime
from evo_fastslow.lifetime.a2c import a2c_loss, act, discount_matrix
from evo_fastslow.lifetime.schedule import scheduled, update_settings
from evo_fastslow.numerics import ops
from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.two_step import TwoStepTask
from references import KNOBS, REFERENCE, reference_loss, without_time

@pytest.mark.parametrize("numerics", ["reproducible", "native"])
@pytest.mark.parametrize("lam,normalize", [(1.0, False), (0.8, False), (0.0, False), (1.0, True), (0.3, True)])
def test_the_loss_is_the_reference_loss(numerics, lam, normalize, monkeypatch):
    """Tolerance 1e-5 absolute: the engines sum in float32 where the reference sums in float64."""
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", numerics)
    task, batch = BanditTask(arms=3, trials=20), 6
    genome = REFERENCE.with_genes(gae_lambda=lam, normalize_advantages=normalize, episodes_per_update=batch)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=1)
    rollout = act(agent, task, task.sample(batch, np.random.default_rng(2)), batch, np.random.default_rng(3))
    with torch.no_grad():
        logits, values = agent.replay(torch.from_numpy(rollout.inputs), agent.initial_state(batch), None)
    heads = torch.cat([logits, values.unsqueeze(-1)], -1).numpy()
    settings = update_settings(genome)
    loss = a2c_loss(agent, rollout, genome, discount_matrix(task.steps, genome["discount"]), settings)
    expected = reference_loss(heads, rollout.actions, rollout.rewards, settings.discount, settings.value_cost,
                              settings.entropy_cost, lam, normalize)
    got = (loss.total.item(), loss.policy, loss.value, loss.entropy)
    assert got == pytest.approx(expected, abs=1e-5)


def test_the_loss_gradient_is_the_reference_gradient():
    """d loss / d heads of the deterministic op against autograd through a float64 torch transcription
    of the same loss (GAE and normalisation on), 1e-6 absolute."""
    rng = np.random.default_rng(0)
    T, B, k = 7, 4, 3
    heads = rng.normal(size=(T, B, k + 1)).astype(np.float32)
    actions, rewards = rng.integers(0, k, size=(T, B)), rng.random((T, B)).astype(np.float32)
    _, d_heads = ops.kernels().a2c_loss(torch.from_numpy(heads), torch.from_numpy(actions), torch.from_numpy(rewards),
                                        0.9, 0.3, 0.05, 0.7, True)
    h = torch.tensor(heads, dtype=torch.float64, requires_grad=True)
    log_p = torch.log_softmax(h[..., :k], -1)
    v = h[..., k]
    vd = v.detach()
    deltas = torch.from_numpy(rewards).double() + 0.9 * torch.nn.functional.pad(vd[1:], (0, 0, 0, 1)) - vd
    adv = discount_matrix(T, 0.9 * 0.7).double() @ deltas
    target = adv + vd
    adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
    taken = log_p.gather(-1, torch.from_numpy(actions).unsqueeze(-1)).squeeze(-1)
    entropy = -(log_p.exp() * log_p).sum(-1).mean()
    total = -(taken * adv).mean() + 0.3 * 0.5 * (target - v).pow(2).mean() - 0.05 * entropy
    total.backward()
    torch.testing.assert_close(d_heads.double(), h.grad, atol=1e-6, rtol=0)


@pytest.mark.parametrize("numerics", ["reproducible", "native"])
@pytest.mark.parametrize("task", [BanditTask(arms=2, trials=30), TwoStepTask(trials=12)], ids=["bandit", "two-step"])
def test_one_update_with_the_knobs_equals_the_python_path(numerics, task, monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", numerics)
    genome = REFERENCE.with_genes(episodes_per_update=8, **KNOBS)
    settings = update_settings(genome, 3, 10)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=3)
    episodes = task.sample(8, np.random.default_rng(4))
    rollout = act(agent, task, episodes, 8, np.random.default_rng(5))
    loss = a2c_loss(agent, rollout, genome, discount_matrix(task.steps, genome["discount"]), settings)
    agent.zero_grad(set_to_none=True)
    loss.total.backward()
    grads = {name: p.grad.clone() for name, p in agent.named_parameters()}
    agent.zero_grad(set_to_none=True)
    fused_rollout, fused_loss = fused.update(agent, episodes, genome, 8, np.random.default_rng(5), settings)
    assert np.array_equal(rollout.actions, fused_rollout.actions)
    parts = ("policy", "value", "entropy")
    if numerics == "reproducible":
        assert [getattr(fused_loss, p) for p in parts] == [getattr(loss, p) for p in parts]
        for name, parameter in agent.named_parameters():
            assert torch.equal(parameter.grad, grads[name]), name
        return
    assert [getattr(fused_loss, p) for p in parts] == pytest.approx([getattr(loss, p) for p in parts], abs=1e-5)
    for name, parameter in agent.named_parameters():
        torch.testing.assert_close(parameter.grad, grads[name], atol=1e-6, rtol=1e-4, msg=name)


def test_a_lifetime_with_every_knob_is_the_same_in_both_engines(tiny_suite, monkeypatch):
    monkeypatch.setenv("EVO_FASTSLOW_NUMERICS", "reproducible")
    genome = REFERENCE.with_genes(episodes_per_update=16, **KNOBS)
    fast = run_lifetime(genome, tiny_suite, seed=7)
    monkeypatch.setenv("EVO_FASTSLOW_KERNEL", "off")
    slow = run_lifetime(genome, tiny_suite, seed=7)
    assert (fast.engine, slow.engine) == ("fused", "python")
    assert without_time(fast) == without_time(slow)
    assert without_time(fast) != without_time(run_lifetime(REFERENCE.with_genes(episodes_per_update=16),
                                                            tiny_suite, seed=7))


def test_the_schedules_reach_their_floor_and_are_recorded(tiny_suite):
    genome = REFERENCE.with_genes(episodes_per_update=16, entropy_cost=0.5, learning_rate=0.01, **{
        k: v for k, v in KNOBS.items() if "schedule" in k or "floor" in k})
    result = run_lifetime(genome, tiny_suite, seed=0)
    costs = [d["entropy_cost"] for d in result.diagnostics]
    rates = [d["learning_rate"] for d in result.diagnostics]
    assert len(result.diagnostics) == len(result.learning_curve) > 3
    assert all(a > b for a, b in zip(costs, costs[1:])) and all(a > b for a, b in zip(rates, rates[1:]))
    assert costs[-1] == pytest.approx(0.5 * 0.1) and rates[-1] == pytest.approx(0.01 * 0.2)
    assert scheduled(0.5, "linear", 0.1, 0, 11) == 0.5 and scheduled(0.5, "linear", 0.1, 5, 11) == pytest.approx(0.275)
    assert scheduled(0.5, "constant", 0.1, 10, 11) == 0.5 and scheduled(0.5, "linear", 0.1, 0, 1) == 0.5
    for point in result.diagnostics:
        assert 1 / 2 <= point["top_action_share"] <= 1.0 and 0.0 <= point["entropy"] <= np.log(2) + 1e-6
        assert point["grad_norm"] > 0 and point["value_loss"] >= 0


def test_the_defaults_change_nothing(tiny_suite):
    """A genome file without the new genes and one that names their defaults run the same lifetime; a
    constant schedule never calls for a different step size."""
    spelled = REFERENCE.with_genes(entropy_schedule="constant", entropy_floor=0.0, lr_schedule="constant",
                                   lr_floor=0.0, gae_lambda=1.0, normalize_advantages=False)
    assert without_time(run_lifetime(REFERENCE, tiny_suite, seed=2)) == \
        without_time(run_lifetime(spelled, tiny_suite, seed=2))
    assert update_settings(REFERENCE, 50, 100) == update_settings(REFERENCE, 0, 100)
