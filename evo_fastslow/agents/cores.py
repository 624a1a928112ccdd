"""Recurrent cores: the fast, weight-free learner of meta-RL lives in their state.

Every core has the same small interface, so the learner never asks which one it runs:
- `initial_state(batch)` and `reset(state, mask)`: fast state is explicit, reset by a mask [B];
- `actor()`: a NumPy snapshot of the weights for the acting pass, one trial at a time (agents/acting.py);
- `step(x [B, I], state) -> (h [B, H], state)`: the same step in torch (for checks and users);
- `replay(x [T, B, I], state) -> h [T, B, H]`: the learning pass over a whole recorded episode in one
  call, with gradients: in the reproducible numerics mode through the fused kernel's own cell code
  (numerics/ops.py: recurrent), in the native mode through nn.LSTM / nn.GRU. All use the same weights,
  so the replayed activations equal the acting ones within float32 rounding.
- `replay_from(x, state) -> (h, state after the last step)`: the same over a stretch of an episode, for
  updates within an episode (lifetime/truncated.py); no gradient flows into the given state.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from evo_fastslow.agents.acting import EpisodicLSTMActor, FeedforwardActor, GRUActor, LSTMActor
from evo_fastslow.numerics import ops, reproducible

State = tuple[torch.Tensor, ...]


class LSTMCore(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.rnn = nn.LSTM(input_size, hidden_size)

    def initial_state(self, batch: int) -> State:
        zeros = torch.zeros(batch, self.hidden_size)
        return zeros, zeros.clone()

    def actor(self) -> LSTMActor:
        return LSTMActor(self)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        r = self.rnn
        h, c = torch.lstm_cell(x, state, r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
        return h, (h, c)

    def replay(self, x: torch.Tensor, state: State) -> torch.Tensor:
        return self.replay_from(x, state)[0]

    def replay_from(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h0, c0 = (s.detach() for s in state)
        if reproducible():
            h, c = ops.recurrent(0, self.kernel_weights(), x, h0, c0)
            return h, (h[-1], c)
        out, (h, c) = self.rnn(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
        return out, (h[0], c[0])

    def kernel_weights(self) -> torch.Tensor:
        """[I + 1 + H, 4H], rows x | 1 | h, columns i, f, g, o (torch's order), g scaled by 2 (tanh(x) =
        2 sigmoid(2x) - 1: one sigmoid for all four gates; exact). Differentiable."""
        rnn, hidden = self.rnn, self.hidden_size
        rows = torch.cat([rnn.weight_ih_l0, (rnn.bias_ih_l0 + rnn.bias_hh_l0).unsqueeze(1), rnn.weight_hh_l0], dim=1)
        scale = torch.ones(4 * hidden, 1)
        scale[2 * hidden:3 * hidden] = 2.0
        return (rows * scale).t().contiguous()


class GRUCore(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.rnn = nn.GRU(input_size, hidden_size)

    def initial_state(self, batch: int) -> State:
        return (torch.zeros(batch, self.hidden_size),)

    def actor(self) -> GRUActor:
        return GRUActor(self.rnn)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        r = self.rnn
        h = torch.gru_cell(x, state[0], r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
        return h, (h,)

    def replay(self, x: torch.Tensor, state: State) -> torch.Tensor:
        return self.replay_from(x, state)[0]

    def replay_from(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h0 = state[0].detach()
        if reproducible():
            h = ops.recurrent(1, self.kernel_weights(), x, h0)[0]
            return h, (h[-1],)
        out, h = self.rnn(x, h0.unsqueeze(0))
        return out, (h[0],)

    def kernel_weights(self) -> torch.Tensor:
        """[I + 1 + H, 4H], rows x | 1 | h, columns r, z (input and hidden parts summed), n_x (the
        input's part of n), n_h (the hidden state's part, gated by r). Differentiable."""
        rnn, hidden, inputs = self.rnn, self.hidden_size, self.rnn.input_size
        w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
        rz, n = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        zeros_h, zeros_x = torch.zeros(hidden, hidden), torch.zeros(hidden, inputs)
        rows = torch.cat([
            torch.cat([w_ih[rz], (b_ih[rz] + b_hh[rz]).unsqueeze(1), w_hh[rz]], dim=1),
            torch.cat([w_ih[n], b_ih[n].unsqueeze(1), zeros_h], dim=1),
            torch.cat([zeros_x, b_hh[n].unsqueeze(1), w_hh[n]], dim=1)])
        return rows.t().contiguous()


class FeedforwardCore(nn.Module):
    """No fast state: whatever it does within an episode, it does from the current input alone."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.layer = nn.Linear(input_size, hidden_size)

    def initial_state(self, batch: int) -> State:
        return ()

    def actor(self) -> FeedforwardActor:
        return FeedforwardActor(self.layer)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return torch.tanh(self.layer(x)), state

    def replay(self, x: torch.Tensor, state: State) -> torch.Tensor:
        return ops.tanh_t(ops.linear(x, self.layer.weight, self.layer.bias))

    def replay_from(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.replay(x, state), state


def reset(state: State, mask: torch.Tensor) -> State:
    """Zero the fast state of the episodes where mask [B] is True."""
    keep = (~mask).to(torch.float32).unsqueeze(1)
    return tuple(s * keep for s in state)


CORES: dict[str, Callable[..., nn.Module]] = {
    "lstm": LSTMCore, "gru": GRUCore, "feedforward": FeedforwardCore,
}  # plugin cores join it when loaded (load_core)
BUILT_IN_CORES = tuple(CORES)


def load_core(name: str, allow_import_path: bool = True) -> Callable[..., nn.Module]:
    """The core class a `core` gene value names: built in, or a plugin (by import path or entry point),
    registered on first use (evo_fastslow/plugins.py says what a plugin core provides)."""
    from evo_fastslow.genome import register_core
    from evo_fastslow.plugins import load_plugin_core

    if name not in CORES:
        core = load_plugin_core(name, allow_import_path)
        register_core(name, core)
        CORES[name] = core
    return CORES[name]


class EpisodicLSTMCore(nn.Module):
    """epLSTM (Ritter et al. 2018): an LSTM whose cell update gains r_t * tanh(c_ep), with c_ep a cell
    state retrieved from episodic memory and r_t a learned reinstatement gate.

    Gate order i, f, g, o, r. The replay is a loop over steps (nn.LSTM has no place for the fifth gate)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(5 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(5 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.zeros(5 * hidden_size))
        bound = hidden_size ** -0.5
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)

    def initial_state(self, batch: int) -> State:
        zeros = torch.zeros(batch, self.hidden_size)
        return zeros, zeros.clone()

    def actor(self) -> EpisodicLSTMActor:
        return EpisodicLSTMActor(self)

    def _cell(self, gates: torch.Tensor, c: torch.Tensor, tanh_reinstated: torch.Tensor) -> tuple:
        """One step from the pre-activations; tanh(c_ep) computed beforehand. One sigmoid call covers
        the five gates (the g part is unused): each call costs more than its arithmetic here."""
        H = self.hidden_size
        s = ops.sigmoid_t(gates)
        i, f, o, r = s[..., :H], s[..., H:2 * H], s[..., 3 * H:4 * H], s[..., 4 * H:]
        c = f * c + i * ops.tanh_t(gates[..., 2 * H:3 * H]) + r * tanh_reinstated
        return o * ops.tanh_t(c), c

    def step(self, x: torch.Tensor, state: State, reinstated: torch.Tensor) -> tuple[torch.Tensor, State]:
        h, c = state
        h, c = self._cell(x @ self.weight_ih.t() + h @ self.weight_hh.t() + self.bias, c, torch.tanh(reinstated))
        return h, (h, c)

    def replay(self, x: torch.Tensor, state: State, reinstated: torch.Tensor) -> torch.Tensor:
        h, c = state
        tanh_reinstated = ops.tanh_t(reinstated)  # [T, B, H] at once (recorded constants)
        if reproducible():  # from the zero state, as every episode starts: the loop in C++
            weights = torch.cat([self.weight_ih, self.bias.unsqueeze(1), self.weight_hh], dim=1).t().contiguous()
            return ops.episodic_recurrent(weights, x, tanh_reinstated.detach())
        return self.replay_loop(x, state, tanh_reinstated)

    def replay_loop(self, x: torch.Tensor, state: State, tanh_reinstated: torch.Tensor) -> torch.Tensor:
        """The replay as a loop of autograd ops (the native mode's; the reference for the C++ one)."""
        h, c = state
        projected = ops.linear(x, self.weight_ih, self.bias)  # [T, B, 5H] at once
        outputs = []
        for t in range(x.shape[0]):
            h, c = self._cell(projected[t] + ops.linear(h, self.weight_hh), c, tanh_reinstated[t])
            outputs.append(h)
        return torch.stack(outputs)
