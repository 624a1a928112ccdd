"""The observation encoder gene: how an agent perceives before its core (none | mlp | conv).

- `mlp`: one tanh layer of `encoder_width` units over the whole observation.
- `conv`: a 3x3 convolution (same padding, `encoder_width` filters, ReLU) over the image at the start
  of the observation (the task's `view_shape`: the gridworld's egocentric window; a task without an
  image shows its observation as one row), then a tanh layer of `encoder_width` units; the rest of the
  observation (the position, say) passes by unchanged.
The convolution is an im2col gather (exact) followed by the project's deterministic matmul
(numerics/ops.py), in torch for the learning pass and in NumPy for the acting pass: the same numbers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from evo_fastslow.numerics import ops


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class MLPEncoder(nn.Module):
    def __init__(self, obs_dim: int, width: int):
        super().__init__()
        self.layer = nn.Linear(obs_dim, width)
        self.out_size = width

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return ops.tanh_t(ops.linear(obs, self.layer.weight, self.layer.bias))

    def actor(self) -> Callable[[np.ndarray], np.ndarray]:
        w, b = _np(self.layer.weight).T.copy(), _np(self.layer.bias)
        return lambda obs: ops.tanh(ops.matmul(obs, w) + b)


class ConvEncoder(nn.Module):
    def __init__(self, obs_dim: int, view_shape: tuple[int, int, int], width: int):
        super().__init__()
        channels, height, wide = view_shape
        self.shape, self.image = view_shape, channels * height * wide
        self.patch = nn.Linear(channels * 9, width)          # the 3x3 filters, as a map of flattened patches
        self.project = nn.Linear(width * height * wide, width)
        self.out_size = width + obs_dim - self.image
        # index [H*W, C*9] of each output position's patch in the zero-padded image, flattened
        c, dy, dx = np.meshgrid(np.arange(channels), np.arange(3), np.arange(3), indexing="ij")
        y, x = np.meshgrid(np.arange(height), np.arange(wide), indexing="ij")
        padded = (c.ravel()[None] * (height + 2) + y.ravel()[:, None] + dy.ravel()[None]) * (wide + 2) \
            + x.ravel()[:, None] + dx.ravel()[None]
        self.register_buffer("index", torch.from_numpy(padded.astype(np.int64)), persistent=False)

    def _patches_np(self, obs: np.ndarray) -> np.ndarray:
        channels, height, wide = self.shape
        image = obs[:, :self.image].reshape(-1, channels, height, wide)
        padded = np.pad(image, ((0, 0), (0, 0), (1, 1), (1, 1))).reshape(len(obs), -1)
        return padded[:, self.index.numpy()]  # [N, H*W, C*9]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        channels, height, wide = self.shape
        flat = obs.reshape(-1, obs.shape[-1])
        image = flat[:, :self.image].reshape(-1, channels, height, wide)
        padded = torch.nn.functional.pad(image, (1, 1, 1, 1)).reshape(len(flat), -1)
        features = ops.linear(padded[:, self.index], self.patch.weight, self.patch.bias).clamp_min(0.0)
        out = ops.tanh_t(ops.linear(features.reshape(len(flat), -1), self.project.weight, self.project.bias))
        return torch.cat([out, flat[:, self.image:]], dim=-1).view(*obs.shape[:-1], self.out_size)

    def actor(self) -> Callable[[np.ndarray], np.ndarray]:
        wp, bp = _np(self.patch.weight).T.copy(), _np(self.patch.bias)
        wo, bo = _np(self.project.weight).T.copy(), _np(self.project.bias)

        def encode(obs: np.ndarray) -> np.ndarray:
            patches = self._patches_np(obs)
            n, positions, size = patches.shape
            features = np.maximum(ops.matmul(np.ascontiguousarray(patches.reshape(-1, size)), wp) + bp, 0.0)
            out = ops.tanh(ops.matmul(np.ascontiguousarray(features.reshape(n, -1)), wo) + bo)
            return np.concatenate([out, obs[:, self.image:]], axis=1)

        return encode


def build_encoder(kind: str, width: int, obs_dim: int, view_shape: tuple[int, int, int] | None) -> nn.Module | None:
    """The encoder a genome's `encoder` gene names (`view_shape` None: the observation as one row)."""
    if kind == "none":
        return None
    if kind == "mlp":
        return MLPEncoder(obs_dim, width)
    return ConvEncoder(obs_dim, view_shape or (1, 1, obs_dim), width)
