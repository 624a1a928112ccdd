"""The agent a genome builds: input encoding, core, episodic memory, policy and value heads.

Recorded input row per step (what the acting pass writes, what the learning pass replays):
  [obs (obs_dim) | previous action one-hot (k) | previous reward (1) | memory read | reinstated state]
- the previous-step parts as the `meta_inputs` gene says (none | reward | action_reward), zero on
  an episode's first step;
- `episodic_memory: value`: per action, the kernel-weighted target of the nearest memories of that
  action (Q, k columns) and the share of the read's weight those memories had (k columns), and whether
  memory held anything (1 column); their weighted sum, the memory's value estimate, also joins the
  value head's input;
- `episodic_memory: reinstate` with a GRU or feedforward core: the retrieved state (H columns),
  entering the core's input through a learned gate sigma(W x) * tanh(m). With an LSTM core the
  retrieved cell state enters the cell update itself (epLSTM) and is recorded apart.
With `memory_key: embedding` the observation is encoded (tanh of a linear map) before the core,
and that embedding is the memory key; with `observation`, the raw observation is. An `encoder` gene
other than none (agents/encoders.py) encodes the observation for the core instead (the memory key
stays as above).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from evo_fastslow.agents.acting import _np
from evo_fastslow.agents.cores import EpisodicLSTMCore, State
from evo_fastslow.agents.encoders import build_encoder
from evo_fastslow.agents.memory import EpisodicStore
from evo_fastslow.genome import Genome
from evo_fastslow.numerics import ops
from evo_fastslow.seeds import numpy_generator

EMBEDDING = 16  # width of the observation embedding used as memory key


class Agent(nn.Module):
    def __init__(self, genome: Genome, obs_dim: int, n_actions: int, view_shape: tuple[int, int, int] | None = None):
        super().__init__()
        self.obs_dim, self.n_actions, self.discount = obs_dim, n_actions, genome["discount"]
        meta, hidden = genome["meta_inputs"], genome["hidden_size"]
        self.memory_kind = genome["episodic_memory"]
        self.memory_genes = {g: genome[g] for g in ("memory_capacity", "memory_k", "memory_key", "memory_write",
                                                    "memory_delta")}
        self.sees_action = meta == "action_reward"
        self.sees_reward = meta in ("reward", "action_reward")
        self.embed = (nn.Linear(obs_dim, EMBEDDING)
                      if self.memory_kind != "off" and genome["memory_key"] == "embedding" else None)
        self.episodic_lstm = self.memory_kind == "reinstate" and genome["core"] == "lstm"
        self.gated_reinstatement = self.memory_kind == "reinstate" and not self.episodic_lstm
        meta_size = (n_actions if self.sees_action else 0) + (1 if self.sees_reward else 0)
        self.read_size = 2 * n_actions + 1 if self.memory_kind == "value" else 0
        self.reinstated_size = hidden if self.gated_reinstatement else 0
        self.input_size = obs_dim + meta_size + self.read_size + self.reinstated_size  # recorded row
        self.read_col = obs_dim + meta_size  # first column of the memory read, if any
        encoder = build_encoder(genome["encoder"], genome["encoder_width"], obs_dim, view_shape)
        core_in = (encoder.out_size if encoder else EMBEDDING if self.embed else obs_dim) + meta_size + self.read_size
        self.gate = nn.Linear(core_in, hidden) if self.gated_reinstatement else None
        if self.episodic_lstm:
            self.core = EpisodicLSTMCore(core_in, hidden)
        else:
            from evo_fastslow.agents.cores import load_core
            from evo_fastslow.plugins import core_genes

            core = load_core(genome["core"])
            self.core = core(core_in + self.reinstated_size, hidden, **core_genes(core, genome))
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden + (1 if self.memory_kind == "value" else 0), 1)
        self.encoder = encoder  # registered last: agents without one draw their initial weights as before

    @property
    def key_size(self) -> int:
        return EMBEDDING if self.embed else self.obs_dim

    @property
    def memory_value_size(self) -> int:
        """value: per action, the target times whether it was that action, and whether it was ([2k])."""
        return 2 * self.n_actions if self.memory_kind == "value" else self.core.hidden_size

    def initial_state(self, batch: int) -> State:
        return self.core.initial_state(batch)

    def new_memory(self, batch: int) -> EpisodicStore | None:
        if self.memory_kind == "off":
            return None
        return EpisodicStore(batch, self.memory_genes["memory_capacity"], self.key_size, self.memory_value_size,
                             self.memory_genes["memory_k"], self.memory_genes["memory_delta"])

    def core_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """From recorded rows [..., I] to the core's input: embedding, gated reinstatement."""
        end = self.input_size - self.reinstated_size
        inputs = x[..., :end]
        if self.encoder is not None:
            inputs = torch.cat([self.encoder(x[..., :self.obs_dim]), x[..., self.obs_dim:end]], dim=-1)
        elif self.embed is not None:
            embedded = ops.tanh_t(ops.linear(x[..., :self.obs_dim], self.embed.weight, self.embed.bias))
            inputs = torch.cat([embedded, x[..., self.obs_dim:end]], dim=-1)
        if self.gate is not None:
            gate = ops.sigmoid_t(ops.linear(inputs, self.gate.weight, self.gate.bias))
            inputs = torch.cat([inputs, gate * ops.tanh_t(x[..., end:])], dim=-1)
        return inputs

    def memory_columns(self, x: Any) -> tuple[Any, Any]:
        """A value memory's read in a recorded row: the per-action estimates Q [..., k], and the share of the
        read's kernel weight each action's memories had [..., k] (its evidence; Q is 0 without any)."""
        k, col = self.n_actions, self.read_col
        return x[..., col:col + k], x[..., col + k:col + 2 * k]

    def actor(self) -> "Actor":
        """A NumPy snapshot of the current weights for the acting pass."""
        return Actor(self)

    def step(self, x: torch.Tensor, state: State, reinstated: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, State]:
        """One step in torch: policy logits [B, k] (for checks; the learner acts with `actor()`)."""
        inputs = self.core_inputs(x)
        h, state = self.core.step(inputs, state, reinstated) if self.episodic_lstm else self.core.step(inputs, state)
        return self.policy(h), state

    def replay(self, x: torch.Tensor, state: State, reinstated: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Learning pass over a recorded episode x [T, B, I]: logits [T, B, k] and values [T, B]."""
        inputs = self.core_inputs(x)
        h = self.core.replay(inputs, state, reinstated) if self.episodic_lstm else self.core.replay(inputs, state)
        return self.heads(h, x)

    def replay_from(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Learning pass over a stretch of an episode x [T, B, I] from `state` (no gradient flows into it):
        logits, values, and the core's state after the last step (lifetime/truncated.py). Not for agents
        with episodic memory, whose reads the stretch would have to carry."""
        if not hasattr(self.core, "replay_from"):
            raise TypeError(f"core {type(self.core).__name__} has no replay_from: it cannot update within an "
                            f"episode (truncation must be 0)")
        h, state = self.core.replay_from(self.core_inputs(x), state)
        logits, values = self.heads(h, x)
        return logits, values, state

    def heads(self, h: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy logits [..., k] and values [...]. Without a value memory both heads are one linear map
        of h, as in the fused kernel (so the two engines sum in the same order)."""
        if self.memory_kind == "value":  # the critic also sees the memory's read: its value estimate
            q, weight = self.memory_columns(x)
            critic_in = torch.cat([h, ops.linear(q * weight, torch.ones(1, self.n_actions))], dim=-1)
            logits = ops.linear(h, self.policy.weight, self.policy.bias)
            return logits, ops.linear(critic_in, self.value.weight, self.value.bias).squeeze(-1)
        weight = torch.cat([self.policy.weight, self.value.weight])
        both = ops.linear(h, weight, torch.cat([self.policy.bias, self.value.bias]))
        return both[..., :self.n_actions], both[..., self.n_actions]


def build_agent(genome: Genome, obs_dim: int, n_actions: int, seed: int,
                view_shape: tuple[int, int, int] | None = None) -> Agent:
    """Build with weights initialised from `seed` alone (torch's default distributions, drawn by NumPy:
    torch's own samplers give other numbers under other CPU capabilities); the global RNG is untouched."""
    with torch.random.fork_rng(devices=[]):
        agent = Agent(genome, obs_dim, n_actions, view_shape)
    rng = numpy_generator(seed, "init")
    with torch.no_grad():
        for module in agent.modules():
            for name, parameter in module.named_parameters(recurse=False):
                bound = _init_bound(module, name)
                values = rng.uniform(-bound, bound, parameter.shape) if bound else np.zeros(parameter.shape)
                parameter.copy_(torch.from_numpy(values.astype(np.float32)))
    return agent


def _init_bound(module: nn.Module, name: str) -> float:
    """torch's default: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for linear layers, 1/sqrt(hidden) for
    recurrent ones; the epLSTM's biases start at zero."""
    if isinstance(module, nn.Linear):
        return 1.0 / math.sqrt(module.in_features)
    if isinstance(module, EpisodicLSTMCore) and name == "bias":
        return 0.0
    return 1.0 / math.sqrt(module.hidden_size)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class TorchCoreActor:
    """The acting pass of a plugin core without a NumPy `actor()`: its own torch `step`, no gradients."""

    def __init__(self, core: nn.Module):
        self.core = core

    def initial_state(self, batch: int) -> tuple[np.ndarray, ...]:
        return tuple(s.detach().numpy().copy() for s in self.core.initial_state(batch))

    def step(self, x: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        with torch.no_grad():
            h, new = self.core.step(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                                    tuple(torch.from_numpy(s) for s in state))
        return h.numpy().copy(), tuple(s.numpy().copy() for s in new)


class Actor:
    """The acting pass of an Agent in NumPy: builds each step's inputs, reads memory, returns logits."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.core = agent.core.actor() if hasattr(agent.core, "actor") else TorchCoreActor(agent.core)
        self.w_policy, self.b_policy = _np(agent.policy.weight).T.copy(), _np(agent.policy.bias)
        self.w_value, self.b_value = _np(agent.value.weight).T.copy(), _np(agent.value.bias)
        self.embed = (_np(agent.embed.weight).T.copy(), _np(agent.embed.bias)) if agent.embed else None
        self.encode = agent.encoder.actor() if agent.encoder is not None else None
        self.gate = (_np(agent.gate.weight).T.copy(), _np(agent.gate.bias)) if agent.gate else None
        self.obs_dim, self.input_size = agent.obs_dim, agent.input_size
        self.sees_action, self.sees_reward = agent.sees_action, agent.sees_reward
        self.read_col = agent.read_col
        self.reward_col = agent.read_col - 1
        self.reinstated_col = agent.input_size - agent.reinstated_size
        self.ones = np.ones((agent.n_actions, 1), np.float32)

    def initial_state(self, batch: int) -> tuple[np.ndarray, ...]:
        return self.core.initial_state(batch)

    def write_inputs(self, x: np.ndarray, obs: np.ndarray, action: np.ndarray | None,
                     reward: np.ndarray | None, rows: np.ndarray) -> None:
        """Fill one step's input row x [B, I] in place (x must start zeroed); rows = arange(B)."""
        x[:, :self.obs_dim] = obs
        if self.sees_action and action is not None:
            x[rows, self.obs_dim + action] = 1.0
        if self.sees_reward and reward is not None:
            x[:, self.reward_col] = reward

    def key(self, obs: np.ndarray) -> np.ndarray:
        if self.embed is None:
            return obs
        return ops.tanh(ops.matmul(obs, self.embed[0]) + self.embed[1])

    def _core_inputs(self, x: np.ndarray) -> np.ndarray:
        end = self.reinstated_col
        inputs = x[:, :end]
        if self.encode is not None:
            inputs = np.concatenate([self.encode(x[:, :self.obs_dim]), x[:, self.obs_dim:end]], axis=1)
        elif self.embed is not None:
            inputs = np.concatenate([self.key(x[:, :self.obs_dim]), x[:, self.obs_dim:end]], axis=1)
        if self.gate is not None:
            gate = ops.sigmoid(ops.matmul(inputs, self.gate[0]) + self.gate[1])
            inputs = np.concatenate([inputs, gate * ops.tanh(x[:, end:])], axis=1)
        return inputs

    def step(self, x: np.ndarray, state: tuple, reinstated: np.ndarray | None = None) -> tuple[np.ndarray, tuple, np.ndarray]:
        """Logits [B, k], the new state, and the core output h [B, H]."""
        inputs = self._core_inputs(x) if (self.embed is not None or self.gate is not None
                                          or self.encode is not None) else x
        if self.agent.episodic_lstm:
            h, state = self.core.step(inputs, state, reinstated)
        else:
            h, state = self.core.step(inputs, state)
        logits = ops.matmul(h, self.w_policy)
        logits += self.b_policy
        return logits, state, h

    def value(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.agent.memory_kind == "value":
            q, weight = self.agent.memory_columns(x)
            critic_in = np.concatenate([h, ops.matmul(np.ascontiguousarray(q * weight), self.ones)], axis=1)
        else:
            critic_in = h
        return (ops.matmul(critic_in, self.w_value) + self.b_value)[:, 0]

    def memory_value(self, state: tuple, h: np.ndarray) -> np.ndarray:
        """What `reinstate` stores: the LSTM's cell state, else the hidden state."""
        return state[1] if len(state) == 2 else h

    # --- episodic memory: what is read into the step, what is written, when ----------------------
    def read_memory(self, memory: EpisodicStore, key: np.ndarray, x: np.ndarray) -> np.ndarray | None:
        """Read, and record the read in the input row x where the learning pass will find it.
        Returns the retrieved cell state for an epLSTM (recorded apart by the caller)."""
        agent = self.agent
        read, found = memory.read(key)
        if agent.memory_kind == "value":
            k, col = agent.n_actions, agent.read_col
            target, weight = read[:, :k], read[:, k:]
            seen = weight > 0
            x[:, col:col + k] = np.divide(target, weight, out=np.zeros_like(target), where=seen)
            x[:, col + k:col + 2 * k], x[:, col + 2 * k] = weight, found
            return None
        if agent.episodic_lstm:
            return read
        x[:, self.reinstated_col:] = read
        return None

    def _per_action(self, target: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """A value memory's entry [B, 2k]: the target in the taken action's column, and that column marked."""
        taken = (actions[:, None] == np.arange(self.agent.n_actions)).astype(np.float32)
        return np.concatenate([taken * target[:, None], taken], axis=1)

    def write_step(self, memory: EpisodicStore, keys: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                   state: tuple, h: np.ndarray, x: np.ndarray, t: int) -> None:
        """every_step: a value memory stores the previous step's one-step target (for the action taken
        then); reinstate stores the state."""
        if self.agent.memory_kind == "value":
            if t > 0:
                target = rewards[t - 1] + self.agent.discount * self.value(h, x)
                memory.write(keys[t - 1], self._per_action(target, actions[t - 1]))
        else:
            memory.write(keys[t], self.memory_value(state, h))

    def write_episode_end(self, memory: EpisodicStore, keys: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                          state: tuple, h: np.ndarray) -> None:
        """episode_end: every step's discounted return for its action (value), or the final state
        (reinstate); every_step value memories store the last step's target, its reward (the episode ends)."""
        every_step = self.agent.memory_genes["memory_write"] == "every_step"
        if self.agent.memory_kind == "value":
            if every_step:
                memory.write(keys[-1], self._per_action(rewards[-1], actions[-1]))
                return
            returns = np.zeros(rewards.shape[1], np.float32)
            for t in range(rewards.shape[0] - 1, -1, -1):
                returns = rewards[t] + self.agent.discount * returns
                memory.write(keys[t], self._per_action(returns, actions[t]))
        elif not every_step:
            memory.write(keys[-1], self.memory_value(state, h))
