"""Recurrent cores: the fast, weight-free learner of meta-RL lives in their state.

Every core has the same small interface, so the learner never asks which one it runs:
- `initial_state(batch)` and `reset(state, mask)`: fast state is explicit, reset by a mask [B];
- `actor()`: a NumPy snapshot of the weights for the acting pass, one trial at a time (agents/acting.py);
- `step(x [B, I], state) -> (h [B, H], state)`: the same step in torch (for checks and users);
- `replay(x [T, B, I], state) -> h [T, B, H]`: the learning pass over a whole recorded episode in one
  call (nn.LSTM / nn.GRU run the time loop in C++), with gradients. All use the same weights, so the
  replayed activations equal the acting ones.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from evo_fastslow.agents.acting import EpisodicLSTMActor, FeedforwardActor, GRUActor, LSTMActor

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
        return LSTMActor(self.rnn)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        r = self.rnn
        h, c = torch.lstm_cell(x, state, r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
        return h, (h, c)

    def replay(self, x: torch.Tensor, state: State) -> torch.Tensor:
        h0, c0 = state
        out, _ = self.rnn(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
        return out


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
        out, _ = self.rnn(x, state[0].unsqueeze(0))
        return out


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
        return torch.tanh(self.layer(x))


def reset(state: State, mask: torch.Tensor) -> State:
    """Zero the fast state of the episodes where mask [B] is True."""
    keep = (~mask).to(torch.float32).unsqueeze(1)
    return tuple(s * keep for s in state)


CORES: dict[str, Callable[[int, int], nn.Module]] = {
    "lstm": LSTMCore, "gru": GRUCore, "feedforward": FeedforwardCore,
}


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

    def _cell(self, gates: torch.Tensor, c: torch.Tensor, reinstated: torch.Tensor) -> tuple:
        i, f, g, o, r = gates.chunk(5, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(r) * torch.tanh(reinstated)
        return torch.sigmoid(o) * torch.tanh(c), c

    def step(self, x: torch.Tensor, state: State, reinstated: torch.Tensor) -> tuple[torch.Tensor, State]:
        h, c = state
        h, c = self._cell(x @ self.weight_ih.t() + h @ self.weight_hh.t() + self.bias, c, reinstated)
        return h, (h, c)

    def replay(self, x: torch.Tensor, state: State, reinstated: torch.Tensor) -> torch.Tensor:
        h, c = state
        projected = x @ self.weight_ih.t() + self.bias  # [T, B, 5H] at once
        outputs = []
        for t in range(x.shape[0]):
            h, c = self._cell(projected[t] + h @ self.weight_hh.t(), c, reinstated[t])
            outputs.append(h)
        return torch.stack(outputs)
