"""The fused path: one A2C update of an LSTM or GRU agent in one C++ call (numerics/recurrent_a2c.cpp).

Why: at bandit sizes the Python path (NumPy acting loop, replay, autograd) spends most of its time in
per-trial interpreter and dispatch overhead, not arithmetic. The kernel runs the trial loop in C++
and backpropagates through the activations it kept while acting instead of replaying the episode
(benchmarks/lifetime_throughput.py gives the figures). Its arithmetic is the numerics mode's
(numerics/: deterministic by default).

It fits an LSTM or GRU agent without episodic memory on a tabular task (`Task.tabular`: its
episodes give their dynamics up front as tables over a few states, tasks/base.py: Tables; every
shipped task is). Everything else takes the Python path. Both consume the same random numbers; in the
reproducible numerics mode they also share every operation (the cell code, the loss, the optimizer),
so they compute the same lifetime bit for bit; in the native mode, within float32 rounding
(tests/test_fused.py). `LifetimeResult.engine` says which ran.

EVO_FASTSLOW_KERNEL: `auto` (default: build, else fall back with a warning), `off` (Python path),
`require` (a failed build is an error).
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from evo_fastslow.agents import Agent
from evo_fastslow.agents.cores import GRUCore, LSTMCore
from evo_fastslow.errors import InputError
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime.a2c import LossParts, Rollout, gumbel_noise
from evo_fastslow.lifetime.schedule import UpdateSettings, update_settings
from evo_fastslow.numerics import build, reproducible
from evo_fastslow.tasks import Task
from evo_fastslow.tasks.base import Tables

MODES = ("auto", "off", "require")
_built: bool | None = None  # None: not tried yet in this process
_local = threading.local()  # per thread: the kernel's scratch buffers, kept across updates (page faults otherwise)


def kernel_mode() -> str:
    mode = os.environ.get("EVO_FASTSLOW_KERNEL", "auto")
    if mode not in MODES:
        raise InputError("environment", f"EVO_FASTSLOW_KERNEL={mode!r}", f"one of {', '.join(MODES)}")
    return mode


@contextmanager
def python_path_only() -> Iterator[None]:
    """Within this block, lifetimes in this thread take the Python path (as EVO_FASTSLOW_KERNEL=off)."""
    previous = getattr(_local, "off", False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = previous


def kernel_available() -> bool:
    """Build (once per machine) and load the kernel unless the mode is `off`; True if it is usable."""
    global _built
    mode = kernel_mode()
    if mode == "off" or getattr(_local, "off", False):
        return False
    if _built is None:
        try:
            build.load()
            _built = True
        except RuntimeError as error:  # no compiler, no ninja, no headers: the Python path still works
            if mode == "require":
                raise
            warnings.warn(f"the fused lifetime kernel could not be built, using the Python path: {error}",
                          RuntimeWarning, stacklevel=2)
            _built = False
    elif not _built and mode == "require":
        raise RuntimeError("the fused lifetime kernel could not be built (EVO_FASTSLOW_KERNEL=require)")
    return _built


def _workspace() -> torch.Tensor:
    if not hasattr(_local, "workspace"):
        _local.workspace = torch.empty(0)
    return _local.workspace


def fits(agent: Agent, task: Task) -> bool:
    """Whether the kernel can run this agent on this task (and is built)."""
    return (type(agent.core) in CELLS and agent.memory_kind == "off" and agent.embed is None
            and agent.encoder is None and task.tabular and kernel_available())


@dataclass
class Carry:
    """Where a stretch of B episodes ends and the next starts (updates within an episode,
    lifetime/truncated.py): the core's state, the task's state, the last action and reward. The kernel
    reads and rewrites it in place."""
    h: torch.Tensor  # [B, H]
    c: torch.Tensor  # [B, H] (an LSTM's cell state; unused by a GRU)
    state: torch.Tensor  # [B] int64
    action: torch.Tensor  # [B] int64
    reward: torch.Tensor  # [B]
    counts: torch.Tensor  # [B, k] int64: each action's count in the episode so far (the intrinsic bonus's)
    earned: torch.Tensor  # [B, k] float64: each action's reward sum in the episode so far

    @classmethod
    def start(cls, batch: int, hidden: int, actions: int) -> "Carry":
        return cls(torch.zeros(batch, hidden), torch.zeros(batch, hidden), torch.zeros(batch, dtype=torch.long),
                   torch.full((batch,), -1, dtype=torch.long), torch.zeros(batch),
                   torch.zeros(batch, actions, dtype=torch.long), torch.zeros(batch, actions, dtype=torch.float64))


def act(agent: Agent, episodes, batch: int, rng: np.random.Generator) -> Rollout:
    """Play B episodes, weights frozen (as a2c.act)."""
    tables = episodes.tables()
    return _run(agent, tables, batch, noise_for(tables, batch, rng), (0.0, 0.0, 0.0, 1.0, False), ("none", 0.0),
                learn=False)[0]


def update(agent: Agent, episodes, genome: Genome, batch: int, rng: np.random.Generator,
           settings: UpdateSettings | None = None) -> tuple[Rollout, LossParts]:
    """Play B episodes and leave d loss / d parameters in every parameter's .grad (as a2c_loss + backward).
    `settings`: this update's (lifetime/schedule.py); by default the genome's at the first update."""
    tables = episodes.tables()
    return update_steps(agent, tables, genome, batch, noise_for(tables, batch, rng), settings)


def update_steps(agent: Agent, tables: Tables, genome: Genome, batch: int, gumbel: np.ndarray,
                 settings: UpdateSettings | None = None, start: int = 0, steps: int | None = None,
                 carry: Carry | None = None) -> tuple[Rollout, LossParts]:
    """As `update`, on steps start .. start + steps - 1 of the episodes' tables (all by default) from
    `carry`, which it leaves where they end; returns bootstrap from the value one step on where they end
    before the episodes do. `gumbel` [T, B, k]: the whole episodes' action noise (noise_for). The loss
    trains on the rewards plus the genome's intrinsic bonus; the rollout keeps the task's rewards."""
    s = settings or update_settings(genome)
    rollout, loss = _run(agent, tables, batch, gumbel, (s.discount, s.value_cost, s.entropy_cost, s.gae_lambda,
                                                          s.normalize_advantages),
                         (genome["intrinsic"], genome["intrinsic_weight"]), True, start, steps, carry)
    assert loss is not None
    return rollout, loss


def noise_for(tables: Tables, batch: int, rng: np.random.Generator) -> np.ndarray:
    """The action noise of a batch of episodes, drawn as the Python path draws it (a2c.act)."""
    steps, _, _, k = tables[1].shape
    return gumbel_noise(rng, steps, batch, k)


BONUSES = {"none": 0, "novelty": 1, "surprise": 2, "information": 3}  # recurrent_a2c.cpp: Bonus


def _run(agent: Agent, tables: Tables, batch: int, noise: np.ndarray, loss_settings: tuple[float, float, float, float, bool],
         bonus: tuple[str, float], learn: bool, start: int = 0, steps: int | None = None, carry: Carry | None = None
         ) -> tuple[Rollout, LossParts | None]:
    if not kernel_available():
        raise RuntimeError("the fused lifetime kernel is off or could not be built; use the Python path")
    obs, reward_table, next_state = (torch.from_numpy(a) for a in tables)
    k = reward_table.shape[3]
    steps = reward_table.shape[0] - start if steps is None else steps
    carry = carry or Carry.start(batch, agent.core.hidden_size, k)
    gumbel = torch.from_numpy(noise)
    rnn, policy, value = agent.core.rnn, agent.policy, agent.value
    cell = CELLS[type(agent.core)]
    with torch.no_grad():
        weights = agent.core.kernel_weights()
        head_w = torch.cat([policy.weight, value.weight])
        head_b = torch.cat([policy.bias, value.bias])
        out = torch.ops.evo_fastslow.recurrent_a2c(
            _workspace(), cell, weights, head_w, head_b, obs, reward_table, next_state, gumbel,
            agent.obs_dim if agent.sees_action else -1, agent.read_col - 1 if agent.sees_reward else -1,
            *loss_settings, learn, not reproducible(), start, steps, carry.h, carry.c, carry.state, carry.action,
            carry.reward, BONUSES[bonus[0]], float(bonus[1]), carry.counts, carry.earned)
    rollout = Rollout(None, out[0].numpy(), out[1].numpy())
    if not learn:
        return rollout, None
    total, policy_loss, value_loss, entropy = out[2].tolist()
    d_weights, d_head_w, d_head_b = out[3:]
    (_lstm_gradients if cell == LSTM else _gru_gradients)(rnn, d_weights.t())
    policy.weight.grad, policy.bias.grad = d_head_w[:k], d_head_b[:k]
    value.weight.grad, value.bias.grad = d_head_w[k:], d_head_b[k:]
    return rollout, LossParts(torch.tensor(total), policy_loss, value_loss, entropy)


LSTM, GRU = 0, 1
CELLS = {LSTMCore: LSTM, GRUCore: GRU}


def _lstm_gradients(rnn: torch.nn.LSTM, d_rows: torch.Tensor) -> None:
    inputs = rnn.input_size
    rnn.weight_ih_l0.grad = d_rows[:, :inputs].contiguous()
    rnn.bias_ih_l0.grad = d_rows[:, inputs].contiguous()
    rnn.bias_hh_l0.grad = d_rows[:, inputs].clone()
    rnn.weight_hh_l0.grad = d_rows[:, inputs + 1:].contiguous()


def _gru_gradients(rnn: torch.nn.GRU, d_rows: torch.Tensor) -> None:
    hidden, inputs = rnn.hidden_size, rnn.input_size
    x_part, h_part = d_rows[:3 * hidden], torch.cat([d_rows[:2 * hidden], d_rows[3 * hidden:]])
    rnn.weight_ih_l0.grad = x_part[:, :inputs].contiguous()
    rnn.bias_ih_l0.grad = x_part[:, inputs].contiguous()
    rnn.bias_hh_l0.grad = h_part[:, inputs].contiguous()
    rnn.weight_hh_l0.grad = h_part[:, inputs + 1:].contiguous()
