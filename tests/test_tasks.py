"""Task distributions: Gymnasium twins pass check_env and match the batched twins; baselines match
the literature's (and exact dynamic-programming) values."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from evo_fastslow.tasks import GYM_IDS, TASKS, BanditTask, run_policy


@pytest.mark.parametrize("gym_id", list(GYM_IDS.values()))
def test_registered_envs_pass_check_env(gym_id):
    env = gym.make(gym_id)
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("how", ["module-prefix", "import-package"])
def test_every_id_is_made_in_a_fresh_interpreter_as_gymnasium_promises(how):
    """`gymnasium.make("evo_fastslow:ID")` with no import (Gymnasium imports the module before the colon),
    and `gymnasium.make(ID)` after a bare `import evo_fastslow`; each env then passes check_env."""
    prefix, setup = ("evo_fastslow:", "") if how == "module-prefix" else ("", "import evo_fastslow; ")
    code = (f"{setup}import gymnasium; from gymnasium.utils.env_checker import check_env\n"
            f"for env_id in {list(GYM_IDS.values())!r}:\n"
            f"    check_env(gymnasium.make('{prefix}' + env_id).unwrapped, skip_render_check=True)\n"
            "print('checked')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "checked", proc.stderr[-1500:]


PARAMS = {"gymnasium": {"env_id": "evo_fastslow/Bandit-v0"}}  # the gymnasium kind runs a registered env


@pytest.mark.parametrize("kind", list(TASKS))
def test_registry_tasks_have_a_gym_twin_and_baselines(kind):
    task = TASKS[kind](**PARAMS.get(kind, {}))
    assert (kind in GYM_IDS) != (kind == "gymnasium") and "random" in task.baselines()
    episodes = task.sample(5, np.random.default_rng(0))
    assert episodes.first_obs.shape == (5, task.obs_dim)


def test_batched_and_gym_bandits_give_the_same_reward_statistics():
    """A fixed policy (alternate arms) on fixed probabilities: the same mean reward per arm."""
    probs = [0.2, 0.7, 0.45]
    task = BanditTask(arms=3, trials=30)
    episodes = task.sample(4000, np.random.default_rng(1))
    episodes.probs = np.broadcast_to(np.array(probs, np.float32), (4000, 3))
    actions = np.arange(task.trials) % 3
    batched = np.stack([episodes.step(t, np.full(4000, actions[t]))[0] for t in range(task.trials)])
    env = gym.make(GYM_IDS["bandit"], arms=3, trials=30).unwrapped
    gym_rewards = []
    for episode in range(400):
        env.reset(seed=episode, options={"probs": probs})
        gym_rewards.append([env.step(int(a))[1] for a in actions])
    gym_rewards = np.array(gym_rewards)
    for arm in range(3):
        b = batched[actions == arm].mean()
        g = gym_rewards[:, actions == arm].mean()
        # 40k and 4k Bernoulli draws: 4 standard errors of the gym mean is below 0.035
        assert abs(b - probs[arm]) < 0.01 and abs(g - probs[arm]) < 0.035 and abs(b - g) < 0.035


@pytest.mark.parametrize("distribution, name, expected, tolerance", [
    ("independent", "random", 16.67, 0.4),
    ("independent", "ucb1", 5.58, 0.3),
    ("independent", "thompson", 2.78, 0.2),
    ("independent", "bayes-optimal", 1.75, 0.12),
    ("independent", "oracle", 0.0, 1e-6),
    ("correlated", "bayes-optimal", 1.22, 0.1),
])
def test_bandit_baselines_match_reference_regrets(distribution, name, expected, tolerance):
    """Literature/DP regrets over 100 trials (shared/notes/literature.md), 10k episodes, fixed seed."""
    task = BanditTask(distribution=distribution)
    episodes = task.sample(10_000, np.random.default_rng(7))
    actions, _ = run_policy(task, episodes, 10_000, task.baselines()[name](), seed=3)
    regret = (episodes.oracle_reward() - episodes.expected_rewards(actions).sum(0, dtype=np.float64)).mean()
    assert abs(regret - expected) < tolerance


def test_correlated_arms_sum_to_one():
    episodes = BanditTask(distribution="correlated").sample(100, np.random.default_rng(0))
    assert np.allclose(episodes.probs.sum(1), 1.0)


def test_correlated_needs_two_arms():
    with pytest.raises(ValueError, match="arms: 2"):
        BanditTask(arms=3, distribution="correlated")


def test_two_step_batched_and_gym_agree_on_transitions_and_rewards():
    """Always choosing action 0: common transitions 0.8, and the reward rate of the best fixed choice."""
    from evo_fastslow.tasks import TwoStepTask

    task = TwoStepTask()
    episodes = task.sample(2000, np.random.default_rng(0))
    actions = np.zeros((task.steps, 2000), np.int64)
    rewards = np.stack([episodes.step(t, actions[t])[0] for t in range(task.steps)])
    assert abs(episodes.common.mean() - 0.8) < 0.01
    assert abs((episodes.second_state == 0).mean() - 0.8) < 0.01
    env = gym.make(GYM_IDS["two-step"]).unwrapped
    common, gym_rewards = [], []
    for episode in range(100):
        env.reset(seed=episode)
        for _ in range(task.trials):
            common.append(env.step(0)[4]["common"])
            gym_rewards.append(env.step(0)[1])
    assert abs(np.mean(common) - 0.8) < 0.03
    # a fixed choice earns 0.5 per trial on average over swaps: 2,000 and 100 episodes of 100 trials
    assert abs(rewards[1::2].mean() - 0.5) < 0.03 and abs(np.mean(gym_rewards) - 0.5) < 0.06


def test_harlow_rewards_the_same_object_wherever_it_is():
    from evo_fastslow.tasks import HarlowTask

    task = HarlowTask()
    episodes = task.sample(500, np.random.default_rng(0))
    dim = task.object_dim
    for t in range(task.trials):
        obs = episodes._obs[t]
        chosen = np.where(episodes.rewarded_side[t][:, None] == 0, obs[:, :dim], obs[:, dim:2 * dim])
        assert np.array_equal(chosen, episodes.objects[:, 0])  # the rewarded object is object 0
        reward, _ = episodes.step(t, episodes.rewarded_side[t])
        assert (reward == 1).all()
    env = gym.make(GYM_IDS["harlow"]).unwrapped
    obs, _ = env.reset(seed=0)
    side = env.side
    _, reward, *_ = env.step(side)
    assert reward == 1.0


def test_recurring_contexts_recur_and_novel_ones_do_not():
    from evo_fastslow.tasks import RecurringBanditTask

    task = RecurringBanditTask(pool_size=3, recur_probability=0.7)
    streams, rng = task.streams(500, np.random.default_rng(0)), np.random.default_rng(1)
    seen = [{} for _ in range(500)]
    recurring_count = 0
    for _ in range(20):
        episodes = streams.next(rng)
        for b in range(500):
            context = tuple(episodes.first_obs[b, :-1])
            if episodes.recurring[b]:
                assert seen[b][context] == episodes.good[b]  # same context, same bandit
                recurring_count += 1
            elif episodes.context_id[b] >= 0:
                assert context not in seen[b]  # a pool context's first showing counts as novel
            seen[b][context] = episodes.good[b]
    # 0.7 x 20 = 14 pool episodes per stream, of which the first showings of the 3 contexts are novel: 11/20
    assert 0.5 < recurring_count / (500 * 20) < 0.6


def test_two_step_model_free_and_model_based_signatures():
    from evo_fastslow.tasks import TwoStepTask

    task = TwoStepTask()
    figures = {}
    for name in ("model-free", "model-based"):
        episodes = task.sample(1000, np.random.default_rng(0))
        actions, rewards = run_policy(task, episodes, 1000, task.baselines()[name](), seed=1)
        figures[name] = task.analyse([(episodes, actions, rewards)])
    assert figures["model-free"]["reward_effect"] > 0.2 and abs(figures["model-free"]["corrected_interaction"]) < 0.05
    assert figures["model-based"]["corrected_interaction"] > 0.3 and abs(figures["model-based"]["reward_effect"]) < 0.05
