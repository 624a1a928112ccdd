"""Agents: the replayed learning pass equals the stepped acting pass; fast state is explicit."""

import numpy as np
import pytest
import torch

from evo_fastslow.agents import CORES, build_agent
from evo_fastslow.agents.cores import reset
from evo_fastslow.genome import SEARCH_SPACE
from evo_fastslow.lifetime.a2c import act
from evo_fastslow.tasks import BanditTask


@pytest.mark.parametrize("core", list(CORES))
@pytest.mark.parametrize("meta", ["none", "reward", "action_reward"])
def test_replay_equals_stepping(core, meta):
    genome = SEARCH_SPACE.default().with_genes(core=core, meta_inputs=meta, hidden_size=16)
    task = BanditTask(arms=3, trials=20)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=0)
    assert agent.input_size == 1 + (3 if meta == "action_reward" else 0) + (meta != "none")
    rollout = act(agent, task, task.sample(8, np.random.default_rng(0)), 8, np.random.default_rng(1))
    inputs = torch.from_numpy(rollout.inputs)
    actor, torch_state, numpy_state = agent.actor(), agent.initial_state(8), agent.actor().initial_state(8)
    stepped, acted = [], []
    with torch.no_grad():
        for t in range(task.trials):
            logits, torch_state = agent.step(inputs[t], torch_state)
            stepped.append(logits)
            numpy_logits, numpy_state = actor.step(rollout.inputs[t], numpy_state)
            acted.append(torch.from_numpy(numpy_logits))
        replayed, values = agent.replay(inputs, agent.initial_state(8))
    assert torch.allclose(torch.stack(stepped), replayed, atol=1e-5)  # torch step == torch replay
    assert torch.allclose(torch.stack(acted), replayed, atol=1e-5)    # NumPy acting == torch replay
    assert values.shape == (task.trials, 8)


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
