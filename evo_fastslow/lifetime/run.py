"""run_lifetime: build the agent a genome describes, train it (slow), test its fast learning (frozen).

A pure function of (genome, suite, seed): every random stream is derived from the seed, the task
streams apart from the agent's own (so that, given the same `task_seed`, every genome of a generation
meets the same training and test tasks).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from evo_fastslow.agents import Agent, build_agent, parameter_count
from evo_fastslow.agents.memory import EpisodicStore
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime import fused, intrinsic, truncated
from evo_fastslow.lifetime.averaging import WeightAverage
from evo_fastslow.lifetime.a2c import LossParts, Rollout, a2c_loss, act, discount_matrix, make_optimizer
from evo_fastslow.lifetime.reference import TestTally, test_batches
from evo_fastslow.lifetime.result import LifetimeResult
from evo_fastslow.lifetime.schedule import UpdateSettings, update_settings
from evo_fastslow.numerics import fixed_mode, numerics_mode
from evo_fastslow.seeds import derive_seed, numpy_generator
from evo_fastslow.suite import FitnessSuite
from evo_fastslow.tasks import Episodes, Task
from evo_fastslow.weights import Tensors, shapes

CURVE_POINTS = 100  # learning-curve resolution

ProgressFn = Callable[[int, int], None]


def run_lifetime(genome: Genome, suite: FitnessSuite, seed: int, *, task_seed: int | None = None,
                 progress: ProgressFn | None = None, save_weights: str | Path | None = None,
                 max_seconds: float | None = None, initial: Tensors | None = None) -> LifetimeResult:
    """Train, then test. `max_seconds` bounds the training: past it the result is a `timeout`."""
    agent, result = train_and_test(genome, suite, seed, task_seed=task_seed, progress=progress,
                                   max_seconds=max_seconds, initial=initial)
    if result.status == "ok" and save_weights is not None:
        torch.save(agent.state_dict(), save_weights)
    return result


def train_and_test(genome: Genome, suite: FitnessSuite, seed: int, *, task_seed: int | None = None,
                   progress: ProgressFn | None = None, max_seconds: float | None = None,
                   initial: Tensors | None = None) -> tuple[Agent, LifetimeResult]:
    """The lifetime, and the agent it leaves. `initial`: the weights it starts from (an inherited or
    evolved state dict), else fresh ones drawn from the seed. One torch thread while it runs (parallelism
    comes from workers; a thread per core on tiny ops made a notebook's lifetime many times slower)."""
    fused.kernel_available()  # a first build of the kernel (once per machine) is not the lifetime's time
    with _one_thread(), fixed_mode():
        start = time.perf_counter()
        task = suite.build_task()
        task_seed = seed if task_seed is None else task_seed
        agent = initial_agent(genome, task, seed)
        if initial is not None:
            load_tensors(agent, initial)
        engine = "fused" if trains_fused(agent, task, genome) else "python"
        result = LifetimeResult(status="ok", parameter_count=parameter_count(agent), engine=engine,
                                numerics=numerics_mode())
        deadline = None if max_seconds is None else start + max_seconds
        _train(agent, task, genome, suite.lifetime.train_env_steps, seed, task_seed, result, progress, deadline)
        if result.status == "ok":
            _test(agent, task, suite, seed, task_seed, result)
        result.wall_seconds = time.perf_counter() - start
    return agent, result


def initial_agent(genome: Genome, task: Task, seed: int) -> Agent:
    """The agent a lifetime of `seed` starts with when it inherits nothing."""
    return build_agent(genome, task.obs_dim, task.n_actions, derive_seed(seed, "init"), task.view_shape)


def load_tensors(agent: Agent, tensors: Tensors) -> None:
    """Copy a state dict in; ValueError unless it has exactly the agent's parameter names and shapes."""
    own = {name: tuple(p.shape) for name, p in agent.state_dict().items()}
    if own != shapes(tensors):
        raise ValueError("initial weights that fit the genome's architecture (their parameter shapes differ)")
    agent.load_state_dict({name: torch.from_numpy(np.array(value, np.float32)) for name, value in tensors.items()})


def agent_tensors(agent: Agent) -> Tensors:
    return {name: p.detach().numpy().copy() for name, p in agent.state_dict().items()}


@contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(agent: Agent, task: Task, genome: Genome, budget: int, seed: int, task_seed: int,
           result: LifetimeResult, progress: ProgressFn | None, deadline: float | None) -> None:
    truncated.check(genome)
    batch = genome["episodes_per_update"]
    updates = max(1, budget // (batch * task.steps))  # batches of episodes (updates within them: truncated.py)
    tasks_rng = numpy_generator(task_seed, "train-tasks")
    actions_rng = numpy_generator(seed, "train-actions")
    streams = task.streams(batch, tasks_rng)
    memory = agent.new_memory(batch)  # episodic memory persists across the lifetime's episodes
    optimizer = make_optimizer(agent, genome)
    steps_per_update = len(truncated.stretches(task.steps, genome["truncation"])) if genome["truncation"] else 1
    optimizer.average = WeightAverage.for_lifetime(optimizer.params, genome["weight_averaging"],
                                                   updates * steps_per_update)
    discounts = discount_matrix(task.steps, genome["discount"])
    every = max(1, updates // CURVE_POINTS)
    window = _Window()
    for update in range(updates):
        settings = update_settings(genome, update, updates)
        optimizer.set_lr(settings.learning_rate)
        if genome["truncation"]:
            rollout, loss, grad_norm = truncated.train_batch(agent, task, streams.next(tasks_rng), genome, batch,
                                                             actions_rng, optimizer, settings,
                                                             trains_fused(agent, task, genome))
        else:
            rollout, loss = compute_gradients(agent, task, streams.next(tasks_rng), genome, batch, actions_rng,
                                              memory, discounts, settings)
        if not math.isfinite(loss.total.item()):
            result.status, result.reason = "diverged", f"non-finite loss at update {update}"
            return
        if not genome["truncation"]:
            grad_norm = optimizer.step()
        result.updates, result.env_steps = update + 1, (update + 1) * batch * task.steps
        window.add(rollout, loss, grad_norm, task.n_actions)
        if (update + 1) % every == 0 or update + 1 == updates:
            reward, diagnostics = window.close(result.env_steps, settings)
            result.learning_curve.append((result.env_steps, reward))
            result.diagnostics.append(diagnostics)
        if progress is not None:
            progress(update + 1, updates)
        if deadline is not None and time.perf_counter() > deadline:
            result.status, result.reason = "timeout", f"time limit reached after {update + 1} of {updates} updates"
            return
    if optimizer.average is not None:
        optimizer.average.load()  # the agent the lifetime leaves (lifetime/averaging.py)


class _Window:
    """Means over the updates since the last learning-curve point: why a lifetime fails shows here
    (entropy collapsing, the value loss, exploding gradients, committing to one action)."""

    def __init__(self) -> None:
        self.sums, self.count = np.zeros(6), 0

    def add(self, rollout: Rollout, loss: LossParts, grad_norm: float, n_actions: int) -> None:
        counts = (rollout.actions[..., None] == np.arange(n_actions)).sum(axis=0)  # [B, k]
        commitment = counts.max(axis=1).mean() / rollout.actions.shape[0]
        self.sums += (float(rollout.rewards.mean(dtype=np.float64)), loss.entropy, loss.value, loss.policy,
                      grad_norm, commitment)
        self.count += 1

    def close(self, env_steps: int, settings: UpdateSettings) -> tuple[float, dict[str, float]]:
        reward, entropy, value, policy, grad_norm, commitment = (self.sums / self.count).tolist()
        self.sums, self.count = np.zeros(6), 0
        return reward, {"env_steps": env_steps, "entropy": entropy, "value_loss": value, "policy_loss": policy,
                        "grad_norm": grad_norm, "top_action_share": commitment,
                        "entropy_cost": settings.entropy_cost, "learning_rate": settings.learning_rate}


def compute_gradients(agent: Agent, task: Task, episodes: Episodes, genome: Genome, batch: int,
                      rng: np.random.Generator, memory: EpisodicStore | None, discounts: torch.Tensor,
                      settings: UpdateSettings | None = None) -> tuple[Rollout, LossParts]:
    """Play one batch of episodes and leave d loss / d parameters in .grad: the fused kernel where it
    fits (lifetime/fused.py), else the Python path (NumPy acting, torch replay, autograd). `settings`:
    this update's (lifetime/schedule.py); by default the genome's at the first update."""
    if trains_fused(agent, task, genome):  # (no episodic memory, so `memory` is None)
        return fused.update(agent, episodes, genome, batch, rng, settings)
    rollout = act(agent, task, episodes, batch, rng, memory)
    trained_on = rollout
    if genome["intrinsic"] != "none":  # the bonus enters the returns only; the rollout keeps the task's reward
        shaped = rollout.rewards + intrinsic.bonus(genome["intrinsic"], genome["intrinsic_weight"], rollout.actions,
                                                   rollout.rewards, task.n_actions)
        trained_on = replace(rollout, rewards=shaped)
    loss = a2c_loss(agent, trained_on, genome, discounts, settings)
    agent.zero_grad(set_to_none=True)
    loss.total.backward()
    return rollout, loss


def trains_fused(agent: Agent, task: Task, genome: Genome) -> bool:
    """Whether the fused kernel trains this agent (it adds the intrinsic bonus itself)."""
    return fused.fits(agent, task)


def _test(agent: Agent, task: Task, suite: FitnessSuite, seed: int, task_seed: int, result: LifetimeResult) -> None:
    """Weights frozen, held-out tasks: only the fast inner loops (core state, episodic memory) adapt."""
    actions_rng, tally, memory = numpy_generator(seed, "test-actions"), TestTally(), None
    for batch, sampled, new_streams in test_batches(suite, task, task_seed):
        if new_streams:
            memory = agent.new_memory(batch)  # a new stream starts with an empty memory
        if fused.fits(agent, task):
            rollout = fused.act(agent, sampled, batch, actions_rng)
        else:
            rollout = act(agent, task, sampled, batch, actions_rng, memory)
        tally.add(sampled, rollout.actions, rollout.rewards)
    for name, value in tally.figures(task).items():
        setattr(result, name, value)


def expected_cost(genes: dict, suite: FitnessSuite) -> float:
    """Relative run time of a lifetime, for scheduling: updates x (fixed per-update dispatch cost +
    arithmetic that grows with batch and width); a feedforward core costs about a third of a recurrent
    one, and one the fused kernel runs about half (assuming it is built on the workers). Calibrated on
    the bandit benchmark; only the order matters."""
    batch, hidden = genes["episodes_per_update"], genes["hidden_size"]
    task = suite.build_task()
    updates = suite.lifetime.train_env_steps / (batch * task.steps)
    core = 0.35 if genes["core"] == "feedforward" else 1.0
    if (genes["core"] in ("lstm", "gru") and genes["episodic_memory"] == "off"
            and genes.get("encoder", "none") == "none" and task.tabular):  # what lifetime/fused.py: fits takes
        core = 0.45  # fused kernel: about twice the Python path's env-steps/s (benchmarks/lifetime_throughput.py)
    return core * updates * (1.0 + batch * hidden * hidden / 140_000)


def load_weights(genome: Genome, task: Task, path: str | Path) -> Agent:
    """An agent with weights saved by `--save-weights` (loaded with weights_only=True: no pickle)."""
    agent = Agent(genome, task.obs_dim, task.n_actions, task.view_shape)
    agent.load_state_dict(torch.load(path, weights_only=True))
    return agent
