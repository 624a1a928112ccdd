"""The one place seeds are made: derived from a root seed and a path of names/integers, never drawn."""

from __future__ import annotations

import zlib

import numpy as np


def _as_int(key: int | str) -> int:
    # Python's hash() of a str differs between processes; crc32 does not.
    return key if isinstance(key, int) else zlib.crc32(key.encode("utf-8"))


def derive_seed(root: int, *path: int | str) -> int:
    """A 63-bit seed for the stream named by `path` under `root` (same inputs, same seed, anywhere)."""
    entropy = [int(root) & 0xFFFFFFFFFFFFFFFF] + [_as_int(k) for k in path]
    return int(np.random.SeedSequence(entropy).generate_state(2, np.uint32).view(np.uint64)[0] >> np.uint64(1))


def numpy_generator(root: int, *path: int | str) -> np.random.Generator:
    """A NumPy Generator (PCG64) for the derived stream."""
    return np.random.Generator(np.random.PCG64(derive_seed(root, *path)))
