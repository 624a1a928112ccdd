"""Richer worlds: the batched gridworld (mazes, egocentric view, baselines), the observation encoder
gene, and any Gymnasium environment as a task (MiniGrid end to end)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from evo_fastslow.agents import build_agent
from evo_fastslow.archive import Archive
from evo_fastslow.cli import main
from evo_fastslow.genome import load_genome
from evo_fastslow.lifetime.a2c import act
from evo_fastslow.lifetime.reference import baseline_results
from evo_fastslow.suite import load_suite
from evo_fastslow.tasks import BanditTask, GridworldTask
from evo_fastslow.tasks.grid_paths import MOVES, UNREACHABLE, distances
from evo_fastslow.tasks.gymnasium_task import GymnasiumTask

LSTM = load_genome("populations/reference.json:wang2016-lstm")


def test_every_free_cell_reaches_the_goal_and_the_distances_are_shortest_paths():
    task = GridworldTask(size=8, wall_density=0.35)
    episodes = task.sample(200, np.random.default_rng(3))
    mazes = episodes.mazes
    assert not mazes.walls[mazes.rows, mazes.goal[:, 0], mazes.goal[:, 1]].any()
    assert (mazes.dist[~mazes.walls] < UNREACHABLE).all()  # cut-off cells were walled in
    assert not mazes.walls[mazes.rows[None], episodes.spawn[..., 0], episodes.spawn[..., 1]].any()
    assert not (episodes.spawn == mazes.goal[None]).all(axis=2).any()
    # a shortest path: every free cell but the goal has a neighbour one step closer, none two closer
    free = ~mazes.walls
    for b, y, x in zip(*np.nonzero(free)):
        if (y, x) == tuple(mazes.goal[b]):
            continue
        around = [mazes.dist[b, y + dy, x + dx] for dy, dx in MOVES]
        assert min(around) == mazes.dist[b, y, x] - 1
    assert (distances(mazes.walls, mazes.goal) == mazes.dist).all()


def test_the_view_is_egocentric_and_the_outside_reads_as_wall():
    task = GridworldTask(size=4, wall_density=0.0, view=3)
    episodes = task.sample(1, np.random.default_rng(0))
    corner = np.array([[1, 1]])  # top-left cell: the row above and the column left are the border
    view = episodes.observe(corner)[0]
    walls, goal = view[:9].reshape(3, 3), view[9:18].reshape(3, 3)
    assert walls[0].all() and walls[:, 0].all() and not walls[1:, 1:].any()
    assert np.array_equal(view[18:20], [0.0, 0.0])  # the position, on [0, 1]
    gy, gx = episodes.mazes.goal[0]
    next_to_goal = np.array([[gy, gx - 1 if gx > 1 else gx + 1]])
    seen = episodes.observe(next_to_goal)[0][9:18].reshape(3, 3)
    assert seen.sum() == 1 and seen[1, 1 + (gx - next_to_goal[0, 1])] == 1


def test_gridworld_baselines_random_oracle_and_explore_then_exploit():
    """On the shipped suite's held-out mazes: the oracle's trials are the shortest paths (first and later
    alike), explore-then-exploit pays for its first trial and then matches the oracle, random finds
    the goal about once an episode."""
    figures = baseline_results(load_suite("fitness/gridworld.yaml"), 11)
    oracle, explore, random = (figures[n] for n in ("oracle", "explore-then-exploit", "random"))
    assert oracle["normalized_score"] == pytest.approx(1.0) and abs(random["normalized_score"]) < 0.02
    assert abs(oracle["analysis"]["first_trial_steps"] - oracle["analysis"]["later_trial_steps"]) < 0.5
    assert explore["analysis"]["first_trial_steps"] > explore["analysis"]["later_trial_steps"] + 2
    assert abs(explore["analysis"]["later_trial_steps"] - oracle["analysis"]["later_trial_steps"]) < 0.2
    assert 0.8 < explore["normalized_score"] < 0.98 and random["analysis"]["finds_per_episode"] < 1.5


def test_recurring_mazes_come_back_with_their_goal_and_look():
    task = GridworldTask(recur_probability=1.0, pool_size=2, context_dim=4)
    streams = task.streams(3, np.random.default_rng(0))
    episodes = [streams.next(np.random.default_rng(i)) for i in range(8)]
    for stream in range(3):
        looks = [tuple(e.mazes.context[stream]) for e in episodes]
        mazes = {look: (tuple(e.mazes.goal[stream]), e.mazes.walls[stream].tobytes())
                 for look, e in zip(looks, episodes)}
        assert len(mazes) <= 2  # a pool of two mazes, each with its own look
        for i, e in enumerate(episodes):  # recurring: this maze was met before in the stream
            assert e.recurring[stream] == (looks[i] in looks[:i])
            assert (tuple(e.mazes.goal[stream]), e.mazes.walls[stream].tobytes()) == mazes[looks[i]]


@pytest.mark.parametrize("encoder", ["mlp", "conv"])
def test_encoders_act_and_learn_with_the_same_numbers(encoder):
    """The NumPy acting pass and the torch learning pass of an encoder give bit-identical logits; a
    conv encoder shares its 3x3 filters across the view (fewer weights than a dense layer over it)."""
    task = GridworldTask(view=5)
    genome = LSTM.with_genes(encoder=encoder, encoder_width=16)
    agent = build_agent(genome, task.obs_dim, task.n_actions, 0, task.view_shape)
    rng = np.random.default_rng(0)
    rollout = act(agent, task, task.sample(8, rng), 8, rng)
    logits, _ = agent.replay(torch.from_numpy(rollout.inputs), agent.initial_state(8))
    actor, state, acted = agent.actor(), agent.actor().initial_state(8), []
    for t in range(task.steps):
        out, state, _ = actor.step(rollout.inputs[t], state)
        acted.append(out)
    assert np.array_equal(np.stack(acted), logits.detach().numpy())
    if encoder == "conv":
        assert agent.encoder.patch.weight.shape == (16, 2 * 9)  # 2 channels x 3 x 3 per filter
    # on a task without an image the observation is one row
    bandit = BanditTask()
    assert build_agent(genome, bandit.obs_dim, bandit.n_actions, 0, bandit.view_shape).encoder is not None


def test_a_gymnasium_env_as_a_task_gives_the_batched_twins_reward_statistics():
    """The `gymnasium` kind running the registered bandit env: the random policy earns the mean of the
    arm probabilities each reset drew (2000 pulls: standard error about 0.011; held within 0.04)."""
    task = GymnasiumTask(env_id="evo_fastslow/Bandit-v0", env_kwargs={"arms": 2, "trials": 100}, trials=100)
    assert (task.obs_dim, task.n_actions) == (1, 2)
    episodes = task.sample(20, np.random.default_rng(0))
    actions = np.random.default_rng(1).integers(0, 2, (100, 20))
    rewards = np.stack([episodes.step(t, actions[t])[0] for t in range(100)])
    expected = np.take_along_axis(np.asarray(episodes.info["probs"]).T, actions, axis=0)  # [T, B]
    assert abs(rewards.mean() - expected.mean()) < 0.04
    again = task.sample(20, np.random.default_rng(0))  # seeded from the task stream: the same draws
    assert np.array_equal(again.first_obs, episodes.first_obs)


def _minigrid_suite(tmp_path, steps):
    data = yaml.safe_load(open("fitness/minigrid-empty.yaml"))
    data["lifetime"]["train_env_steps"], data["test"]["episodes"] = steps, 8
    path = tmp_path / "minigrid.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_minigrid_environment_end_to_end(tmp_path, capsys):
    """MiniGrid's Empty room through the Gymnasium task kind: a lifetime from the CLI beside the random
    baseline, then a short evolution whose archive holds successful evaluations."""
    suite = _minigrid_suite(tmp_path, 3200)
    assert main(["lifetime", "--genome", "populations/reference.json:wang2016-lstm", "--suite", str(suite),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["env_steps"] >= 3200 and "random" in out["baseline_rewards"]
    assert 0.0 <= out["test_mean_reward"] <= 1.0 and out["normalized_score"] is None  # no oracle: no normalised score
    config = tmp_path / "run.yaml"
    data = yaml.safe_load(open("configs/quickstart.yaml"))
    data.update(suites=[str(suite)], population=3, generations=1,
                budget={"train_env_steps": 3200, "test_episodes": 8}, cluster={"workers": 0})
    config.write_text(yaml.safe_dump(data))
    assert main(["evolve", str(config), "--out", str(tmp_path / "run")]) == 0
    with Archive(tmp_path / "run" / "archive.sqlite") as archive:
        evaluations = archive.evaluations()
    assert len(evaluations) == 3 and all(e.status == "ok" for e in evaluations.values())
    assert all(e.fitness == e.metrics["minigrid-empty"]["test_mean_reward"] for e in evaluations.values())


@pytest.mark.parametrize("params, expected", [
    ({"env_id": "NoSuchEnv-v9"}, "suite.yaml: task.params: env_id: a Gymnasium id that can be made"),
    ({"env_id": "CartPole-v1", "metric": "normalized_score"}, "metric: test_reward"),
    ({"env_id": "Pendulum-v1"}, "an environment with Discrete actions"),
])
def test_a_bad_gymnasium_suite_names_the_field(tmp_path, capsys, params, expected):
    metric = params.pop("metric", "test_reward")
    suite = {"schema": "evo_fastslow.suite/1", "name": "g", "task": {"kind": "gymnasium", "params": params},
             "lifetime": {"train_env_steps": 100}, "metric": metric}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["lifetime", "--genome", "populations/reference.json:wang2016-lstm", "--suite", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_the_recurring_gridworld_twin_passes_check_env():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    env = gym.make("evo_fastslow/Gridworld-v0", recur_probability=0.7, pool_size=4, context_dim=8)
    check_env(env.unwrapped, skip_render_check=True)
    _, info = env.reset(seed=1)
    assert set(info) == {"goal", "recurring"}
