"""The fused path: one A2C update of an LSTM agent in one C++ call (lstm_a2c.cpp).

Why: at bandit sizes the Python path (NumPy acting loop, nn.LSTM replay, autograd) spends most of
its time in per-trial interpreter and dispatch overhead, not arithmetic. The kernel runs the trial
loop in C++, sends the matmuls to ATen, and backpropagates through the activations it kept while
acting instead of replaying the episode (benchmarks/lifetime_throughput.py gives the figures).

It fits an LSTM agent without episodic memory on an open-loop task (`Task.open_loop`: the bandits,
whose episodes give their observations and every action's reward up front). Everything else, and
every machine where the kernel cannot be built, takes the Python path, which computes the same
update within float32 rounding (tests/test_fused.py). Both consume the same random numbers, so the
two paths sample the same actions wherever their logits agree; `LifetimeResult.engine` says which ran.

EVO_FASTSLOW_KERNEL: `auto` (default: build, else fall back with a warning), `off` (Python path),
`require` (a failed build is an error). The build (gcc + ninja, 15-30 s) happens once per machine,
into torch's extension cache, under a name carrying the source's hash: an edited kernel is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from evo_fastslow.agents import Agent
from evo_fastslow.agents.cores import LSTMCore
from evo_fastslow.errors import InputError
from evo_fastslow.genome import Genome
from evo_fastslow.lifetime.a2c import LossParts, Rollout, gumbel_noise
from evo_fastslow.tasks import Task

SOURCE = Path(__file__).with_name("lstm_a2c.cpp")
MODES = ("auto", "off", "require")
_built: bool | None = None  # None: not tried yet in this process
_local = threading.local()  # per thread: the kernel's scratch buffers, kept across updates (page faults otherwise)


def kernel_mode() -> str:
    mode = os.environ.get("EVO_FASTSLOW_KERNEL", "auto")
    if mode not in MODES:
        raise InputError("environment", f"EVO_FASTSLOW_KERNEL={mode!r}", f"one of {', '.join(MODES)}")
    return mode


def kernel_available() -> bool:
    """Build (once per machine) and load the kernel unless the mode is `off`; True if it is usable."""
    global _built
    mode = kernel_mode()
    if mode == "off":
        return False
    if _built is None:
        try:
            _build()
            _built = True
        except Exception as error:  # no compiler, no ninja, no headers: the Python path still works
            if mode == "require":
                raise
            warnings.warn(f"the fused lifetime kernel could not be built, using the Python path: {error}",
                          RuntimeWarning, stacklevel=2)
            _built = False
    elif not _built and mode == "require":
        raise RuntimeError("the fused lifetime kernel could not be built (EVO_FASTSLOW_KERNEL=require)")
    return _built


def _build() -> None:
    from torch.utils.cpp_extension import load

    if shutil.which("ninja") is None:  # the `ninja` dependency's binary, when its venv is not activated
        import ninja

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")

    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    load(name=f"evo_fastslow_lstm_a2c_{digest}", sources=[str(SOURCE)], extra_cflags=["-O3"],
         is_python_module=False, verbose=False)


def _workspace() -> torch.Tensor:
    if not hasattr(_local, "workspace"):
        _local.workspace = torch.empty(0)
    return _local.workspace


def fits(agent: Agent, task: Task) -> bool:
    """Whether the kernel can run this agent on this task (and is built)."""
    return (isinstance(agent.core, LSTMCore) and agent.memory_kind == "off" and agent.embed is None
            and task.open_loop and kernel_available())


def act(agent: Agent, episodes, batch: int, rng: np.random.Generator) -> Rollout:
    """Play B episodes, weights frozen (as a2c.act)."""
    return _run(agent, episodes, batch, rng, (0.0, 0.0, 0.0), learn=False)[0]


def update(agent: Agent, episodes, genome: Genome, batch: int, rng: np.random.Generator
           ) -> tuple[Rollout, LossParts]:
    """Play B episodes and leave d loss / d parameters in every parameter's .grad (as a2c_loss + backward)."""
    rollout, loss = _run(agent, episodes, batch, rng,
                         (genome["discount"], genome["value_cost"], genome["entropy_cost"]), learn=True)
    assert loss is not None
    return rollout, loss


def _run(agent: Agent, episodes, batch: int, rng: np.random.Generator, costs: tuple[float, float, float],
         learn: bool) -> tuple[Rollout, LossParts | None]:
    if not kernel_available():
        raise RuntimeError("the fused lifetime kernel is off or could not be built; use the Python path")
    obs, reward_table = (torch.from_numpy(a) for a in episodes.open_loop())
    steps, k = reward_table.shape[0], reward_table.shape[2]
    gumbel = torch.from_numpy(gumbel_noise(rng, steps, batch, k))
    rnn, policy, value = agent.core.rnn, agent.policy, agent.value
    with torch.no_grad():
        bias = rnn.bias_ih_l0 + rnn.bias_hh_l0
        head_w = torch.cat([policy.weight, value.weight])
        head_b = torch.cat([policy.bias, value.bias])
        out = torch.ops.evo_fastslow.lstm_a2c(
            _workspace(), rnn.weight_ih_l0.detach(), rnn.weight_hh_l0.detach(), bias, head_w, head_b, obs, reward_table, gumbel,
            agent.obs_dim if agent.sees_action else -1, agent.read_col - 1 if agent.sees_reward else -1,
            *costs, learn)
    rollout = Rollout(None, out[0].numpy(), out[1].numpy())
    if not learn:
        return rollout, None
    total, policy_loss, value_loss, entropy = out[2].tolist()
    d_w_ih, d_w_hh, d_bias, d_head_w, d_head_b = out[3:]
    rnn.weight_ih_l0.grad, rnn.weight_hh_l0.grad = d_w_ih, d_w_hh
    rnn.bias_ih_l0.grad, rnn.bias_hh_l0.grad = d_bias, d_bias.clone()
    policy.weight.grad, policy.bias.grad = d_head_w[:k], d_head_b[:k]
    value.weight.grad, value.bias.grad = d_head_w[k:], d_head_b[k:]
    return rollout, LossParts(torch.tensor(total), policy_loss, value_loss, entropy)
