"""`check_task`: hold a batched task to the contract the learner relies on, as Gymnasium's `check_env`
holds an env to its API. Each problem is a `TaskContractError` naming the task, the call and the field.

What every task must give (the Python path, lifetime/a2c.py):
- `obs_dim` and `n_actions` (positive ints), `trials` and `steps` (positive ints);
- `sample(B, rng)` -> episodes with `first_obs` [B, obs_dim] float32; `step(t, actions [B] int64)` ->
  (reward [B] float32, next observation [B, obs_dim] float32), rewards within `reward_range`;
  `expected_rewards(actions [T, B])` -> [T, B]; `oracle_reward()` and `random_reward()` -> [B] (when
  `has_oracle`); the same seed draws the same episodes;
- `baselines()`: reference policies (a mapping name -> factory; may be empty).
What a `tabular` task gives besides (the fused kernel, lifetime/fused.py): `episodes.tables()` ->
Tables(obs [T, B, S, obs_dim] float32, reward [T, B, S, k] float32, next_state [T, B, S, k] int64 in
[0, S)), agreeing with `step` along the path the actions take.
"""

from __future__ import annotations

import numpy as np


class TaskContractError(ValueError):
    """A task that breaks the batched contract: names the task, the call and what was expected."""


def _fail(task: object, where: str, expected: str, got: object) -> None:
    raise TaskContractError(f"{type(task).__name__}: {where}: expected {expected}, got {got}")


def _array(task: object, where: str, value: object, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        _fail(task, where, f"a NumPy array of shape {shape}", type(value).__name__)
    if value.shape != shape:
        _fail(task, where, f"shape {shape}", value.shape)
    if value.dtype != np.dtype(dtype):
        _fail(task, where, f"dtype {np.dtype(dtype)}", value.dtype)
    if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
        _fail(task, where, "finite values", "NaN or infinity")
    return value


def _floats(task: object, where: str, value: object, shape: tuple[int, ...]) -> None:
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
        _fail(task, where, f"a float array of shape {shape}", type(value).__name__)
    _array(task, where, value, shape, value.dtype)


def check_task(task: object, batch: int = 4, seed: int = 0) -> None:
    """Raise TaskContractError at the first break of the contract (see the module's docstring)."""
    from evo_fastslow.tasks.base import Task

    if not isinstance(task, Task):
        _fail(task, "type", "a subclass of evo_fastslow.tasks.Task", type(task).__name__)
    for name in ("obs_dim", "n_actions", "trials", "steps"):
        value = getattr(task, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(task, name, "a positive int", repr(value))
    low, high = task.reward_range
    episodes = task.sample(batch, np.random.default_rng(seed))
    again = task.sample(batch, np.random.default_rng(seed))
    first = _array(task, f"sample({batch}, rng).first_obs", getattr(episodes, "first_obs", None),
                   (batch, task.obs_dim), np.float32)
    if not np.array_equal(first, again.first_obs):
        _fail(task, f"sample({batch}, rng)", "the same episodes from the same seed", "different first_obs")
    rng = np.random.default_rng(seed + 1)
    actions = rng.integers(0, task.n_actions, size=(task.steps, batch)).astype(np.int64)
    rewards = np.empty((task.steps, batch), np.float32)
    observations = [first]
    for t in range(task.steps):
        out = episodes.step(t, actions[t])
        if not (isinstance(out, tuple) and len(out) == 2):
            _fail(task, f"step({t}, actions)", "a tuple (reward [B], next observation [B, obs_dim])", type(out).__name__)
        reward = _array(task, f"step({t}, actions) reward", out[0], (batch,), np.float32)
        obs = _array(task, f"step({t}, actions) observation", out[1], (batch, task.obs_dim), np.float32)
        if np.any(reward < low) or np.any(reward > high):
            _fail(task, f"step({t}, actions) reward", f"values in reward_range [{low}, {high}]",
                  f"{float(reward.min())} .. {float(reward.max())}")
        rewards[t] = reward
        observations.append(obs)
    if task.has_oracle:
        _floats(task, "expected_rewards(actions [T, B])", episodes.expected_rewards(actions), (task.steps, batch))
        for name in ("oracle_reward", "random_reward"):
            _floats(task, f"{name}()", getattr(episodes, name)(), (batch,))
    baselines = task.baselines()
    if not isinstance(baselines, dict) or not all(callable(f) for f in baselines.values()):
        _fail(task, "baselines()", "a mapping of name -> policy factory", type(baselines).__name__)
    if task.tabular:
        _check_tables(task, task.sample(batch, np.random.default_rng(seed)), actions, rewards, observations, batch)


def _check_tables(task: object, episodes: object, actions: np.ndarray, rewards: np.ndarray,
                  observations: list[np.ndarray], batch: int) -> None:
    tables = getattr(episodes, "tables", None)
    if not callable(tables):
        _fail(task, "tabular episodes", "a tables() method (the fused kernel's input)", "none")
    obs, reward, next_state = tables()
    steps, k = task.steps, task.n_actions
    if obs.ndim != 4:
        _fail(task, "tables().obs", "shape [T, B, S, obs_dim]", obs.shape)
    states = obs.shape[2]
    _array(task, "tables().obs", obs, (steps, batch, states, task.obs_dim), np.float32)
    _array(task, "tables().reward", reward, (steps, batch, states, k), np.float32)
    _array(task, "tables().next_state", next_state, (steps, batch, states, k), np.int64)
    if np.any(next_state < 0) or np.any(next_state >= states):
        _fail(task, "tables().next_state", f"states in [0, {states})", f"{next_state.min()} .. {next_state.max()}")
    state, rows = np.zeros(batch, np.int64), np.arange(batch)
    for t in range(steps):
        if not np.allclose(obs[t, rows, state], observations[t]):
            _fail(task, f"tables().obs[{t}]", "the observation step() gave on the same path", "another")
        if not np.allclose(reward[t, rows, state, actions[t]], rewards[t]):
            _fail(task, f"tables().reward[{t}]", "the reward step() gave on the same path", "another")
        state = next_state[t, rows, state, actions[t]]

