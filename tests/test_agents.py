"""Agents: the replayed learning pass equals the stepped acting pass; fast state is explicit."""

import numpy as np
import pytest
import torch

from evo_fastslow.agents import CORES, build_agent
from evo_fastslow.agents.cores import reset
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.lifetime.a2c import act
from evo_fastslow.tasks import BanditTask, RecurringBanditTask


MEMORY_GENES = [{"episodic_memory": "off"},
                {"episodic_memory": "value", "memory_key": "observation", "memory_write": "episode_end"},
                {"episodic_memory": "value", "memory_key": "embedding", "memory_write": "every_step"},
                {"episodic_memory": "reinstate", "memory_key": "observation", "memory_write": "episode_end"},
                {"episodic_memory": "reinstate", "memory_key": "embedding", "memory_write": "every_step"}]


@pytest.mark.parametrize("core", list(CORES))
@pytest.mark.parametrize("meta", ["none", "reward", "action_reward"])
@pytest.mark.parametrize("memory", MEMORY_GENES, ids=lambda m: "-".join(m.values()))
def test_replay_equals_stepping(core, meta, memory):
    """NumPy acting, torch stepping and torch replay give the same logits, memory reads included."""
    genome = SEARCH_SPACE.default().with_genes(core=core, meta_inputs=meta, hidden_size=16, memory_k=2, **memory)
    task = RecurringBanditTask(arms=3, trials=12, pool_size=2, recur_probability=1.0)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=0)
    streams, memory_store = task.streams(8, np.random.default_rng(0)), agent.new_memory(8)
    for episode in range(3):  # later episodes read what earlier ones wrote
        rollout = act(agent, task, streams.next(np.random.default_rng(episode)), 8, np.random.default_rng(1),
                      memory_store)
    inputs = torch.from_numpy(rollout.inputs)
    reinstated = None if rollout.reinstated is None else torch.from_numpy(rollout.reinstated)
    actor, torch_state, numpy_state = agent.actor(), agent.initial_state(8), agent.actor().initial_state(8)
    stepped, acted = [], []
    with torch.no_grad():
        for t in range(task.steps):
            r_t = None if reinstated is None else reinstated[t]
            logits, torch_state = agent.step(inputs[t], torch_state, r_t)
            stepped.append(logits)
            numpy_logits, numpy_state, _ = actor.step(rollout.inputs[t], numpy_state,
                                                      None if r_t is None else r_t.numpy())
            acted.append(torch.from_numpy(numpy_logits))
        replayed, values = agent.replay(inputs, agent.initial_state(8), reinstated)
    assert torch.allclose(torch.stack(stepped), replayed, atol=1e-5)  # torch step == torch replay
    assert torch.allclose(torch.stack(acted), replayed, atol=1e-5)    # NumPy acting == torch replay
    assert values.shape == (task.steps, 8)
    if memory["episodic_memory"] != "off":
        assert memory_store.size > 0
        if memory["episodic_memory"] == "value":
            k = task.n_actions
            assert (rollout.inputs[:, :, agent.read_col + 2 * k] == 1).all()  # every read found memories
            weight = rollout.inputs[:, :, agent.read_col + k:agent.read_col + 2 * k]
            np.testing.assert_allclose(weight.sum(-1), 1.0, rtol=1e-5)  # per action: shares of the kernel weight
        elif reinstated is not None:
            assert np.abs(rollout.reinstated).sum() > 0


def test_inputs_hold_the_previous_action_and_reward():
    genome = SEARCH_SPACE.default()
    task = BanditTask(arms=2, trials=10)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=0)
    rollout = act(agent, task, task.sample(4, np.random.default_rng(0)), 4, np.random.default_rng(0))
    x = rollout.inputs
    assert (x[0, :, 1:] == 0).all()  # nothing precedes the first trial
    assert np.array_equal(x[1:, :, 1:3].argmax(-1), rollout.actions[:-1])
    assert (x[1:, :, 1:3].sum(-1) == 1).all()
    assert np.array_equal(x[1:, :, 3], rollout.rewards[:-1])
    assert np.allclose(x[:, 0, 0], np.arange(10) / 10)


def test_same_seed_same_weights_and_global_rng_untouched():
    genome = SEARCH_SPACE.default()
    before = torch.random.get_rng_state()
    a, b = build_agent(genome, 1, 2, seed=5), build_agent(genome, 1, 2, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(build_agent(genome, 1, 2, seed=6).parameters()), next(a.parameters()))


@pytest.mark.parametrize("core", list(CORES))
def test_reset_zeroes_only_masked_episodes(core):
    module = CORES[core](3, 4)
    state = tuple(torch.ones_like(s) for s in module.initial_state(2))
    out = reset(state, torch.tensor([True, False]))
    for s in out:
        assert (s[0] == 0).all() and (s[1] == 1).all()


@pytest.mark.parametrize("embedding", [False, True])
def test_the_episodic_lstm_replay_in_cpp_equals_the_autograd_loop(embedding):
    """The reproducible mode replays an epLSTM in one C++ call (numerics/episodic_lstm.cpp); the same
    cell as a loop of autograd ops must give the same outputs and gradients, weights and inputs (an
    embedding upstream needs d x), within float32 rounding (the two sum the gate pre-activations in
    different orders): atol 1e-6, rtol 1e-4."""
    genome = SEARCH_SPACE.default().with_genes(core="lstm", hidden_size=12, episodic_memory="reinstate",
                                               memory_key="embedding" if embedding else "observation")
    agent = build_agent(genome, 5, 3, seed=2)
    core = agent.core
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((9, 4, core.weight_ih.shape[1])).astype(np.float32)).requires_grad_()
    retrieved = torch.from_numpy(rng.standard_normal((9, 4, 12)).astype(np.float32))
    upstream = torch.from_numpy(rng.standard_normal((9, 4, 12)).astype(np.float32))
    results = []
    for replay in (lambda: core.replay(x, core.initial_state(4), retrieved),
                   lambda: core.replay_loop(x, core.initial_state(4), torch.tanh(retrieved))):
        core.zero_grad(set_to_none=True)
        x.grad = None
        h = replay()
        (h * upstream).sum().backward()
        results.append((h.detach().clone(), x.grad.clone(), {n: p.grad.clone() for n, p in core.named_parameters()}))
    (h_cpp, dx_cpp, grads_cpp), (h_loop, dx_loop, grads_loop) = results
    torch.testing.assert_close(h_cpp, h_loop, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(dx_cpp, dx_loop, atol=1e-6, rtol=1e-4)
    for name in grads_loop:
        torch.testing.assert_close(grads_cpp[name], grads_loop[name], atol=1e-6, rtol=1e-4, msg=name)
