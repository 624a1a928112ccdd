"""studies/learner-probes/learner_probes.py's patches do what its figures say they did."""

import importlib.util
from pathlib import Path

import numpy as np
import torch
import yaml

from evo_fastslow.agents import build_agent
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime import run_lifetime
from evo_fastslow.lifetime.a2c import make_optimizer
from evo_fastslow.lifetime.schedule import update_settings
from evo_fastslow.tasks.bandit import BanditTask
from references import small_suite

SPEC = importlib.util.spec_from_file_location(
    "learner_probes", Path(__file__).resolve().parents[1] / "studies/learner-probes/learner_probes.py")
probes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(probes)

AGENT = "populations/evolved.json:bandit-agent-polyak"


TINY = small_suite(steps=20_000, episodes=200)


def _tiny_suite_file(folder: Path) -> str:
    """TINY as a suite file: run_job reads its suite from a path, as a worker process does."""
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY.model_dump(mode="json", exclude_none=True, by_alias=True)))
    return str(path)


def test_a_retest_at_temperature_1_is_the_lifetimes_own_test_and_0_is_another(tmp_path):
    figures = probes.run_job(AGENT, _tiny_suite_file(tmp_path), 3, "base", [1.0, 0.0])
    assert figures["status"] == "ok"
    assert figures["temperature=1"] == figures["base"]  # same agent, tasks and noise: the same bits
    assert np.isfinite(figures["temperature=0"]) and figures["temperature=0"] != figures["base"]


def test_the_discount_ramp_runs_from_the_genomes_discount_to_its_end():
    genome = load_genome(AGENT)
    ramp = probes._ramped(0.97)
    first, middle, last = ramp(genome, 0, 101), ramp(genome, 50, 101), ramp(genome, 100, 101)
    assert first == update_settings(genome, 0, 101)
    assert abs(middle.discount - (genome["discount"] + 0.97) / 2) < 1e-12
    assert abs(last.discount - 0.97) < 1e-12
    assert last.learning_rate == update_settings(genome, 100, 101).learning_rate


def test_ppo_epochs_start_on_policy_and_one_epoch_adds_no_step():
    genome = load_genome(AGENT)
    task = BanditTask(arms=2, trials=50)
    agent = build_agent(genome, task.obs_dim, task.n_actions, 0, task.view_shape)
    optimizer = make_optimizer(agent, genome)
    play = probes._PPOStretches(agent, task, task.sample(4, np.random.default_rng(1)), 4,
                                np.random.default_rng(2), update_settings(genome))
    play.stretch(0, 25)
    x, first, actions, old, _, _ = play.kept
    with torch.no_grad():
        logits = agent.replay_from(x, first)[0]
    now = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    assert torch.equal(now, old)  # the ratio is 1 before any step: the first epoch is A2C's
    before = [p.detach().clone() for p in agent.parameters()]
    play.more_epochs(optimizer, 1)
    assert all(torch.equal(a, p) for a, p in zip(before, agent.parameters()))
    play.more_epochs(optimizer, 2)
    assert any(not torch.equal(a, p) for a, p in zip(before, agent.parameters()))


def test_a_belief_loss_of_weight_0_changes_no_bit_and_of_weight_1_changes_the_lifetime(monkeypatch):
    """The belief variant trains on the Python path, which in the reproducible mode computes the fused
    kernel's bits (tests/test_fused.py): at weight 0 the head and its loss must change nothing."""
    genome = load_genome(AGENT)
    base = run_lifetime(genome, TINY, 3)
    regrets = {}
    for weight in (0.0, 1.0):
        with monkeypatch.context() as patch:
            for owner, name, value in probes.variant_patches(f"belief={weight:g}", genome)[1]:
                patch.setattr(owner, name, value)
            regrets[weight] = run_lifetime(genome, TINY, 3).test_regret
    assert regrets[0.0] == base.test_regret
    assert regrets[1.0] != base.test_regret


def test_the_privileged_critic_starts_as_the_agents_own_value_and_learns(tmp_path):
    genome = load_genome(AGENT)
    task = BanditTask(arms=2, trials=50)
    patches = dict(((owner, name), value) for owner, name, value in probes.variant_patches("critic=16", genome)[1])
    agent = patches[(probes.lifetime, "initial_agent")](genome, task, 0)
    episodes = task.sample(4, np.random.default_rng(1))
    play = patches[(probes.truncated, "_PythonStretches")](agent, task, episodes, 4, np.random.default_rng(2),
                                                           update_settings(genome))
    x = torch.from_numpy(play.inputs[:5])
    _, values, _ = agent.replay_from(x, agent.initial_state(4))
    h, _ = agent.core.replay_from(agent.core_inputs(x), agent.initial_state(4))
    assert torch.equal(values, agent.heads(h, x)[1])  # the critic's output layer starts at zero
    play.stretch(0, 25)
    assert agent.critic.out.weight.grad.abs().sum() > 0  # and the value loss trains it
    base = probes.run_job(AGENT, _tiny_suite_file(tmp_path), 3, "base", [])["base"]
    originals = (probes.lifetime.initial_agent, probes.lifetime.trains_fused, probes.truncated._PythonStretches)
    assert probes.run_job(AGENT, _tiny_suite_file(tmp_path), 3, "critic=16", [])["critic=16"] != base
    # and the job undoes its patches, so later lifetimes in this process are the base ones
    assert (probes.lifetime.initial_agent, probes.lifetime.trains_fused, probes.truncated._PythonStretches) == originals


def test_hard_training_tasks_are_close_pairs_and_a_share_of_0_is_the_base_lifetime(monkeypatch):
    genome = load_genome(AGENT)
    drawn = {}

    def spy(agent, task, genome, budget, seed, *rest):
        drawn[seed] = task.sample_probs(2000, np.random.default_rng(seed))
    monkeypatch.setattr(probes.lifetime, "_train", spy)
    for owner, name, value in probes.variant_patches("hard-tasks=1", genome)[1]:
        monkeypatch.setattr(owner, name, value)
    run_lifetime(genome, TINY, 3)
    gaps = np.abs(drawn[3][:, 1] - drawn[3][:, 0])
    assert gaps.max() <= 0.3 + 1e-6 and gaps.mean() > 0.05  # every training task close, not all identical
    after = BanditTask(arms=2).sample_probs(2000, np.random.default_rng(3))
    assert np.abs(after[:, 1] - after[:, 0]).max() > 0.9  # the test's tasks (after training) drawn as the suite's
    monkeypatch.undo()
    base = run_lifetime(genome, TINY, 3).test_regret
    with monkeypatch.context() as patch:
        for owner, name, value in probes.variant_patches("hard-tasks=0", genome)[1]:
            patch.setattr(owner, name, value)
        assert run_lifetime(genome, TINY, 3).test_regret == base


def test_variants_joined_by_an_ampersand_combine_genes_and_patches():
    genome = load_genome(AGENT)
    genes, patches = probes.variant_patches('critic=16&genes={"discount": 0.97}&discount-ramp=0.99', genome)
    assert genes == {"discount": 0.97}
    assert {name for _, name, _ in patches} == {"initial_agent", "trains_fused", "_PythonStretches",
                                                "update_settings"}


def test_expected_rewards_reach_the_loss_while_the_core_sees_the_sampled_ones(monkeypatch):
    genome = load_genome(AGENT)
    task = BanditTask(arms=2, trials=50)
    seen = []
    original = probes.truncated.loss_of
    monkeypatch.setattr(probes.truncated, "loss_of", lambda *args: seen.append(args[2]) or original(*args))
    episodes = task.sample(4, np.random.default_rng(1))
    for mode in ("mean", "regret"):
        agent = build_agent(genome, task.obs_dim, task.n_actions, 0, task.view_shape)
        patches = dict(((owner, name), value)
                       for owner, name, value in probes.variant_patches(f"expected-reward={mode}", genome)[1])
        assert patches[(probes.lifetime, "trains_fused")](agent, task, genome) is False
        play = patches[(probes.truncated, "_PythonStretches")](agent, task, episodes, 4, np.random.default_rng(2),
                                                               update_settings(genome))
        rollout, _ = play.stretch(0, 25)
        trained = seen[-1].rewards
        chosen = episodes.probs[np.arange(4), rollout.actions]
        best = episodes.probs.max(axis=1) if mode == "regret" else 0.0
        np.testing.assert_allclose(trained, chosen - best, atol=1e-6)
        assert set(np.unique(rollout.rewards)) <= {0.0, 1.0}  # the rollout (and the core's input) sampled
        np.testing.assert_array_equal(play.inputs[1:25, :, -1], rollout.rewards[:24])  # last column: reward
    assert (seen[-1].rewards <= 1e-6).all()  # regret: never above the oracle (float32 rounding aside)


def test_a_failed_job_is_recorded_with_its_reason_and_a_finished_one_printed(capsys):
    from concurrent.futures import Future

    failed, done = Future(), Future()
    failed.set_exception(RuntimeError("kernel schema mismatch"))
    done.set_result({"base": 2.0, "seconds": 1.0, "status": "ok"})
    assert probes._result(failed, ("critic=16", 101))["status"] == "failed: RuntimeError: kernel schema mismatch"
    assert probes._result(done, ("base", 102))["base"] == 2.0
    err = capsys.readouterr().err
    assert "done: critic=16 seed 101: failed: RuntimeError" in err and "done: base seed 102: 2.0" in err


def test_a_probe_can_test_on_more_episodes_than_its_suite(tmp_path):
    figures = probes.run_job(AGENT, _tiny_suite_file(tmp_path), 3, "base", [1.0], test_episodes=400)
    assert figures["status"] == "ok" and figures["temperature=1"] == figures["base"]
    assert figures["base"] != probes.run_job(AGENT, _tiny_suite_file(tmp_path), 3, "base", [])["base"]
