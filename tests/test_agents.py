"""Agents: the replayed learning pass equals the stepped acting pass; fast state is explicit."""

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
    rollout = act(agent, task, task.sample(8, torch.Generator().manual_seed(0)), 8, torch.Generator().manual_seed(1))
    state = agent.initial_state(8)
    stepped = []
    with torch.no_grad():
        for t in range(task.trials):
            logits, state = agent.step(rollout.inputs[t], state)
            stepped.append(logits)
        replayed, values = agent.replay(rollout.inputs, agent.initial_state(8))
    assert torch.allclose(torch.stack(stepped), replayed, atol=1e-5)
    assert values.shape == (task.trials, 8)


def test_inputs_hold_the_previous_action_and_reward():
    genome = SEARCH_SPACE.default()
    task = BanditTask(arms=2, trials=10)
    agent = build_agent(genome, task.obs_dim, task.n_actions, seed=0)
    rollout = act(agent, task, task.sample(4, torch.Generator().manual_seed(0)), 4, torch.Generator().manual_seed(0))
    x = rollout.inputs
    assert (x[0, :, 1:] == 0).all()  # nothing precedes the first trial
    assert torch.equal(x[1:, :, 1:3].argmax(-1), rollout.actions[:-1])
    assert torch.equal(x[1:, :, 3], rollout.rewards[:-1])
    assert torch.allclose(x[:, 0, 0], torch.arange(10) / 10)


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
