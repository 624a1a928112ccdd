"""Task distributions: Gymnasium twins pass check_env and match the batched twins; baselines match
the literature's (and exact dynamic-programming) values."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from evo_fastslow.tasks import GYM_IDS, TASKS, BanditTask, run_policy


@pytest.mark.parametrize("gym_id", list(GYM_IDS.values()))
def test_registered_envs_pass_check_env(gym_id):
    env = gym.make(gym_id)
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("kind", list(TASKS))
def test_registry_tasks_have_a_gym_twin_and_baselines(kind):
    task = TASKS[kind]()
    assert kind in GYM_IDS and "random" in task.baselines()
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
