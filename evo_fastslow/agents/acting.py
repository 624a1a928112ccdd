"""The acting pass in NumPy: a snapshot of an agent's weights that steps B episodes one trial at a time.

Its arithmetic goes through numerics/ops.py (deterministic in the reproducible mode). In that mode each
core's step is one C++ call that performs the NumPy step's operations in its order (the same bits,
tests/test_numerics.py): a step of a dozen small ops paid a microsecond of dispatch each.
Why NumPy: the acting pass is a Python loop over trials with a dozen small array ops per trial; at
these sizes a NumPy op costs about 1 us against 3-5 us for a torch dispatch, which made acting 2.5x
faster (benchmarks/lifetime_throughput.py). No gradients are needed here: the learning pass replays
the recorded inputs through the torch modules, whose activations equal these (tests/test_agents.py).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from evo_fastslow.numerics import ops, reproducible

State = tuple[np.ndarray, ...]


def _np(parameter: nn.Parameter) -> np.ndarray:
    return parameter.detach().numpy().astype(np.float32, copy=True)


class LSTMActor:
    """The fused kernel's step (numerics/recurrent_a2c.cpp): one product [x | 1 | h] @ W [I + 1 + H, 4H]
    with the g columns scaled by 2, one sigmoid for all gates, g = 2 sigmoid(2 a_g) - 1 = tanh(a_g)."""

    def __init__(self, core: nn.Module):
        self.weights = core.kernel_weights().detach().numpy().copy()
        self.hidden = core.hidden_size

    def initial_state(self, batch: int) -> State:
        return np.zeros((batch, self.hidden), np.float32), np.zeros((batch, self.hidden), np.float32)

    def step(self, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        if reproducible():
            h, c = ops.lstm_step(x, state[0], state[1], self.weights)
            return h, (h, c)
        return self.numpy_step(x, state)

    def numpy_step(self, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """The step as NumPy ops: the native mode's, and what the one-call step must equal bit for bit."""
        h, c = state
        H = self.hidden
        rows = np.concatenate([x, np.ones((x.shape[0], 1), np.float32), h], axis=1)
        s = ops.sigmoid(ops.matmul(rows, self.weights))  # i, f, g (scaled), o
        g = 2.0 * s[:, 2 * H:3 * H] - 1.0
        c = s[:, H:2 * H] * c + s[:, :H] * g
        h = s[:, 3 * H:] * ops.tanh(c)
        return h, (h, c)


class GRUActor:
    def __init__(self, rnn: nn.GRU):
        self.w_x, self.w_h = _np(rnn.weight_ih_l0).T.copy(), _np(rnn.weight_hh_l0).T.copy()  # r, z, n
        self.b_x, self.b_h = _np(rnn.bias_ih_l0), _np(rnn.bias_hh_l0)
        self.hidden = rnn.hidden_size

    def initial_state(self, batch: int) -> State:
        return (np.zeros((batch, self.hidden), np.float32),)

    def step(self, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        if reproducible():
            h = ops.gru_step(x, state[0], self.w_x, self.b_x, self.w_h, self.b_h)
            return h, (h,)
        return self.numpy_step(x, state)

    def numpy_step(self, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """The step as NumPy ops: the native mode's, and what the one-call step must equal bit for bit."""
        h, H = state[0], self.hidden
        gx = ops.matmul(x, self.w_x)
        gx += self.b_x
        gh = ops.matmul(h, self.w_h)
        gh += self.b_h
        rz = ops.sigmoid(gx[:, :2 * H] + gh[:, :2 * H])
        n = ops.tanh(gx[:, 2 * H:] + rz[:, :H] * gh[:, 2 * H:])
        h = n + rz[:, H:] * (h - n)
        return h, (h,)


class FeedforwardActor:
    def __init__(self, layer: nn.Linear):
        self.w, self.b = _np(layer.weight).T.copy(), _np(layer.bias)

    def initial_state(self, batch: int) -> State:
        return ()

    def step(self, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        h = ops.matmul(x, self.w)
        h += self.b
        return ops.tanh(h), state


class EpisodicLSTMActor:
    """epLSTM step in NumPy (gates reordered i, f, o, r | g: one sigmoid over four gates)."""

    def __init__(self, core: nn.Module):
        H = core.hidden_size
        order = np.r_[0:2 * H, 3 * H:5 * H, 2 * H:3 * H]  # i, f, o, r, g
        self.w_x = _np(core.weight_ih)[order].T.copy()
        self.w_h = _np(core.weight_hh)[order].T.copy()
        self.bias = _np(core.bias)[order]
        self.hidden = H

    def initial_state(self, batch: int) -> State:
        return np.zeros((batch, self.hidden), np.float32), np.zeros((batch, self.hidden), np.float32)

    def step(self, x: np.ndarray, state: State, reinstated: np.ndarray) -> tuple[np.ndarray, State]:
        if reproducible():
            h, c = ops.episodic_lstm_step(x, state[0], state[1], reinstated, self.w_x, self.w_h, self.bias)
            return h, (h, c)
        return self.numpy_step(x, state, reinstated)

    def numpy_step(self, x: np.ndarray, state: State, reinstated: np.ndarray) -> tuple[np.ndarray, State]:
        """The step as NumPy ops: the native mode's, and what the one-call step must equal bit for bit."""
        h, c = state
        H = self.hidden
        gates = ops.matmul(x, self.w_x)
        gates += ops.matmul(h, self.w_h)
        gates += self.bias
        s = ops.sigmoid(gates[:, :4 * H])
        c = s[:, H:2 * H] * c + s[:, :H] * ops.tanh(gates[:, 4 * H:]) + s[:, 3 * H:4 * H] * ops.tanh(reinstated)
        h = s[:, 2 * H:3 * H] * ops.tanh(c)
        return h, (h, c)
