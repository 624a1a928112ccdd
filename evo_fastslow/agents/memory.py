"""Episodic memory: a batched differentiable-neural-dictionary-style store (Pritzel et al. 2017).

One store per parallel stream, `capacity` slots each. A read takes the k nearest keys (squared
Euclidean distance) and weights their values by the inverse-distance kernel 1 / (d^2 + delta),
normalised. delta (the `memory_delta` gene) is the squared distance at which a memory counts half as
much as an exact match: NEC's 1e-3 suits learned embeddings; raw observation keys want about 1, so
that the memories of one situation pool (the same context at neighbouring trials).
Replacement rule: first in, first out; once full, each write overwrites the oldest slot. All streams
write together, so one counter serves them all.

Memory contents are data, not parameters: reads enter the learning pass as recorded constants (no
gradient into stored keys or values), as in Ritter et al. 2018, whose stored cell states are
retrieved, not trained.
"""

from __future__ import annotations

import numpy as np

from evo_fastslow.numerics import ops, reproducible



class EpisodicStore:
    def __init__(self, batch: int, capacity: int, key_dim: int, value_dim: int, k: int, delta: float = 1e-3):
        self.capacity, self.k, self.delta = capacity, k, delta
        self.keys = np.zeros((batch, capacity, key_dim), np.float32)
        self.values = np.zeros((batch, capacity, value_dim), np.float32)
        self.written = 0  # writes so far (per stream)
        self._rows = np.arange(batch)[:, None]

    @property
    def size(self) -> int:
        return min(self.written, self.capacity)

    def clear(self) -> None:
        self.written = 0

    def write(self, keys: np.ndarray, values: np.ndarray) -> None:
        """One entry per stream: keys [B, Dk], values [B, Dv]."""
        slot = self.written % self.capacity
        self.keys[:, slot], self.values[:, slot] = keys, values
        self.written += 1

    def read(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kernel-weighted mean of the k nearest values [B, Dv], and whether anything was there [B]."""
        n = self.size
        batch = query.shape[0]
        if n == 0:
            return np.zeros((batch, self.values.shape[2]), np.float32), np.zeros(batch, np.float32)
        if reproducible():  # distances summed in order, ties to the older slot
            return ops.knn_read(self.keys, self.values, query, n, self.k, self.delta), np.ones(batch, np.float32)
        keys = self.keys[:, :n]
        # |k - q|^2 = |k|^2 - 2 k.q + |q|^2, as one batched product
        d2 = (keys * keys).sum(-1) - 2.0 * np.einsum("bnd,bd->bn", keys, query) + (query * query).sum(-1)[:, None]
        np.maximum(d2, 0.0, out=d2)
        k = min(self.k, n)
        nearest = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < n else np.broadcast_to(np.arange(n), (batch, n))
        weights = 1.0 / (np.take_along_axis(d2, nearest, axis=1) + self.delta)
        weights /= weights.sum(axis=1, keepdims=True)
        values = self.values[self._rows, nearest]  # [B, k, Dv]
        return (weights[..., None] * values).sum(axis=1).astype(np.float32), np.ones(batch, np.float32)
