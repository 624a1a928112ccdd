"""The Python path's arithmetic in the current numerics mode: NumPy functions for the acting pass,
autograd functions for the learning pass, and the optimizer step.

In `reproducible` mode each goes through the extension's deterministic ops (det_math.h); in
`native` mode through NumPy and torch as they dispatch per CPU. Elementwise +, -, * and / are left to
NumPy and torch in both modes: each is one correctly rounded IEEE operation whatever the vector width.
What must not be left to them: matmuls, exp/log/sigmoid/tanh, and reductions (their order depends on
the vector width) — including the hidden reduction in the backward of a broadcast bias, which is why
`linear` takes its bias itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from evo_fastslow.numerics import reproducible
from evo_fastslow.numerics.build import load


_loaded: tuple | None = None  # (NumPy module, torch ops), once built and loaded


def kernels():
    """torch.ops.evo_fastslow, built and loaded."""
    return _extension()[1]


def _numpy():
    """The extension's NumPy functions (pybind11: a microsecond a call, not the ~15 of a torch op)."""
    return _extension()[0]


def _extension() -> tuple:
    global _loaded
    if _loaded is None:
        _loaded = (load(), torch.ops.evo_fastslow)
    return _loaded


# --- NumPy: the acting pass ------------------------------------------------------------------------
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [M, K] @ b [K, N]."""
    return _numpy().mm(a, b) if reproducible() else a @ b


def sigmoid(x: np.ndarray) -> np.ndarray:
    if not reproducible():
        out = np.negative(x)
        np.exp(out, out=out)
        out += 1.0
        return np.reciprocal(out, out=out)
    return _numpy().sigmoid(x)


def tanh(x: np.ndarray) -> np.ndarray:
    return _numpy().tanh(x) if reproducible() else np.tanh(x)


def gumbel(uniform: np.ndarray) -> np.ndarray:
    """Gumbel(0, 1) noise -log(-log(u)) from uniforms in [0, 1)."""
    if not reproducible():
        return -np.log(-np.log(np.maximum(uniform, 1e-30)))
    return _numpy().gumbel(uniform)


def knn_read(keys: np.ndarray, values: np.ndarray, query: np.ndarray, size: int, k: int, delta: float
             ) -> np.ndarray:
    """Kernel-weighted mean [B, V] of the k nearest of the first `size` stored values (agents/memory.py)."""
    return _numpy().knn_read(keys, values, query, size, k, delta)


def lstm_step(x: np.ndarray, h: np.ndarray, c: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSTMActor's step as one call (reproducible mode only): (h', c')."""
    return _numpy().lstm_step(x, h, c, weights)


def gru_step(x: np.ndarray, h: np.ndarray, w_x: np.ndarray, b_x: np.ndarray, w_h: np.ndarray, b_h: np.ndarray
             ) -> np.ndarray:
    """GRUActor's step as one call (reproducible mode only): h'."""
    return _numpy().gru_step(x, h, w_x, b_x, w_h, b_h)


def episodic_lstm_step(x: np.ndarray, h: np.ndarray, c: np.ndarray, reinstated: np.ndarray, w_x: np.ndarray,
                       w_h: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EpisodicLSTMActor's step as one call (reproducible mode only): (h', c')."""
    return _numpy().episodic_lstm_step(x, h, c, reinstated, w_x, w_h, bias)


# --- autograd: the learning pass -------------------------------------------------------------------
class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = kernels().det_mm(x, weight.t())
        return out + bias if bias is not None else out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        ops = kernels()
        dx = ops.det_mm(grad, weight) if ctx.needs_input_grad[0] else None
        dw = ops.det_mm_tn(grad, x) if ctx.needs_input_grad[1] else None
        db = ops.det_mm_tn(torch.ones(grad.shape[0], 1), grad).view(-1) if ctx.has_bias else None
        return dx, dw, db


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x [..., in] @ weight [out, in]^T + bias, as F.linear."""
    if not reproducible():
        return F.linear(x, weight, bias)
    flat = _Linear.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return flat.view(*x.shape[:-1], weight.shape[0])


class _Activation(torch.autograd.Function):
    """sigmoid or tanh; the derivative from the output alone."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sigmoid: bool) -> torch.Tensor:
        y = kernels().det_sigmoid(x) if sigmoid else kernels().det_tanh(x)
        ctx.save_for_backward(y)
        ctx.sigmoid = sigmoid
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (y,) = ctx.saved_tensors
        return grad * (y * (1.0 - y) if ctx.sigmoid else 1.0 - y * y), None


def sigmoid_t(x: torch.Tensor) -> torch.Tensor:
    return _Activation.apply(x, True) if reproducible() else torch.sigmoid(x)


def tanh_t(x: torch.Tensor) -> torch.Tensor:
    return _Activation.apply(x, False) if reproducible() else torch.tanh(x)


class _Recurrent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weights: torch.Tensor, cell: int, h0: torch.Tensor | None,
                c0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h, *saved = kernels().rnn_forward(cell, weights, x.contiguous(), False, h0, c0)
        ctx.save_for_backward(weights, *saved, *(() if c0 is None else (c0,)))
        ctx.cell = cell
        last_cell = saved[2][-1].clone()
        ctx.mark_non_differentiable(last_cell)
        return h, last_cell

    @staticmethod
    def backward(ctx, grad: torch.Tensor, _grad_cell: torch.Tensor | None):
        weights, rows, gates, cells, tanh_c, *c0 = ctx.saved_tensors
        d_weights, d_x = kernels().rnn_backward(ctx.cell, weights, rows, gates, cells, tanh_c, grad.contiguous(), False,
                                                c0[0] if c0 else None)
        return d_x, d_weights, None, None, None


def recurrent(cell: int, weights: torch.Tensor, x: torch.Tensor, h0: torch.Tensor | None = None,
              c0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(h [T, B, H], an LSTM's last cell state [B, H]) of an LSTM (cell 0) or GRU (1) over x [T, B, I], from
    the zero state or from h0, c0 [B, H] (constants: no gradient flows into them), weights in the fused
    kernel's layout [I + 1 + H, 4H] (agents/cores.py: kernel_weights); the kernel's own cell code."""
    detached = [None if s is None else s.detach().contiguous() for s in (h0, c0)]
    return _Recurrent.apply(x, weights, cell, *detached)


class _EpisodicRecurrent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weights: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        h, *saved = kernels().episodic_lstm_forward(weights, x.contiguous(), m)
        ctx.save_for_backward(weights, m, *saved)
        return h

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        weights, m, rows, acts, cells, tanh_c = ctx.saved_tensors
        d_weights, d_x = kernels().episodic_lstm_backward(weights, m, rows, acts, cells, tanh_c, grad.contiguous())
        return d_x, d_weights, None


def episodic_recurrent(weights: torch.Tensor, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """h [T, B, H] of an epLSTM from zero state over x [T, B, I], with m = tanh(retrieved cell states)
    [T, B, H] (constants) and weights [I + 1 + H, 5H] (rows x | 1 | h; columns i, f, g, o, r)."""
    return _EpisodicRecurrent.apply(x, weights, m.contiguous())


class _Attach(torch.autograd.Function):
    """A loss computed outside autograd, given its gradient d loss / d heads."""

    @staticmethod
    def forward(ctx, heads: torch.Tensor, total: torch.Tensor, d_heads: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(d_heads)
        return total.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (d_heads,) = ctx.saved_tensors
        return d_heads * grad, None, None


def a2c_loss(heads: torch.Tensor, actions: np.ndarray, rewards: np.ndarray, discount: float, value_cost: float,
             entropy_cost: float, gae_lambda: float = 1.0, normalize: bool = False,
             bootstrap: torch.Tensor | None = None) -> tuple[torch.Tensor, float, float, float]:
    """(total with its gradient, policy, value, entropy): the A2C loss of heads [T, B, k + 1] (logits,
    then the value) with n-step returns to the episode's end, or past the last step to `bootstrap` [B]
    (a constant), or GAE(lambda) advantages — ops.cpp's a2c_loss_gradient, the very code the fused kernel
    runs."""
    losses, d_heads = kernels().a2c_loss(heads.detach().contiguous(), torch.from_numpy(actions),
                                         torch.from_numpy(rewards), discount, value_cost, entropy_cost,
                                         gae_lambda, normalize,
                                         None if bootstrap is None else bootstrap.detach().contiguous())
    total, policy, value, entropy = losses.tolist()
    return _Attach.apply(heads, torch.tensor(total, dtype=torch.float32), d_heads), policy, value, entropy


# --- the optimizer step ----------------------------------------------------------------------------
class Optimizer:
    """Clip the gradients' total norm, then one Adam or RMSprop step (torch's formulas)."""

    def __init__(self, params: list[torch.nn.Parameter], kind: str, lr: float, max_norm: float):
        self.params, self.kind, self.lr, self.max_norm = list(params), kind, lr, max_norm
        self.average = None  # a lifetime's weight average (lifetime/averaging.py), moved after every step
        self.deterministic = reproducible()
        if not self.deterministic:
            # Adam fused (one kernel for all parameters); RMSprop has no CPU fused kernel
            self.torch = (torch.optim.Adam(self.params, lr=lr, fused=True) if kind == "adam" else
                          torch.optim.RMSprop(self.params, lr=lr, alpha=0.99, eps=1e-5, foreach=True))
            return
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]
        self.beta1, self.beta2, self.eps = (0.9, 0.999, 1e-8) if kind == "adam" else (0.0, 0.99, 1e-5)
        self.power1 = self.power2 = 1.0  # beta^t by repeated multiplication (no libm pow)

    def set_lr(self, lr: float) -> None:
        """The step size of the next steps (a learning-rate schedule); Adam's moments are kept."""
        self.lr = lr
        if not self.deterministic:
            for group in self.torch.param_groups:
                group["lr"] = lr

    def step(self) -> float:
        """One step; returns the gradients' total norm before clipping (a lifetime's diagnostics)."""
        norm = self._step()
        if self.average is not None:
            self.average.update()
        return norm

    def _step(self) -> float:
        if not self.deterministic:
            norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.max_norm))
            self.torch.step()
            return norm
        self.power1 *= self.beta1
        self.power2 *= self.beta2
        step_size = self.lr / (1.0 - self.power1) if self.kind == "adam" else self.lr
        bias2_sqrt = math.sqrt(1.0 - self.power2) if self.kind == "adam" else 1.0
        grads = [torch.zeros_like(p) if p.grad is None else p.grad.contiguous() for p in self.params]
        with torch.no_grad():
            return kernels().optimizer_step([p.data for p in self.params], grads, self.first, self.second,
                                            0 if self.kind == "adam" else 1, self.lr, self.max_norm, self.beta1,
                                            self.beta2, self.eps, step_size, bias2_sqrt)
