"""A leaky recurrent core: h_t = (1 - leak) h_{t-1} + leak tanh(W x_t + U h_{t-1} + b). Its `leak` is a gene
of its own: how fast its fast state forgets, set by evolution where a run config searches it."""

from __future__ import annotations

import torch
from torch import nn

from evo_fastslow.genes import Float


class LeakyRNNCore(nn.Module):
    genes = (Float("leak", "leaky RNN core: the share of its state replaced each step", low=0.05, high=1.0,
                   default_value=0.5),)

    def __init__(self, input_size: int, hidden_size: int, leak: float = 0.5):
        super().__init__()
        self.hidden_size, self.leak = hidden_size, float(leak)
        self.inputs = nn.Linear(input_size, hidden_size)
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(batch, self.hidden_size),)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        (h,) = state
        h = (1.0 - self.leak) * h + self.leak * torch.tanh(self.inputs(x) + self.recurrent(h))
        return h, (h,)

    def replay(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out = []
        for t in range(x.shape[0]):
            h, state = self.step(x[t], state)
            out.append(h)
        return torch.stack(out)
