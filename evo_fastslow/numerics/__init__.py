"""Numerics: everything that decides a lifetime's numbers, the same bits on every CPU.

Two modes, chosen by `EVO_FASTSLOW_NUMERICS`:
- `reproducible` (the default): every matmul, exp, log, sigmoid, tanh, loss and optimizer step of a
  lifetime runs through det_math.h (fixed summation order, no fused multiply-add, no libm), so a
  genome's fitness is the same on any CPU, instruction set, BLAS and thread count.
- `native`: ATen's BLAS and vectorised kernels and NumPy's, as PyTorch dispatches them per CPU:
  sometimes faster, but a result depends on the machine that computed it.

The C++ sources (det_math.*, ops.*, recurrent_a2c.cpp) build into one torch extension, once per
machine (build.py). `fingerprint()` says what decides a process's numbers.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

from evo_fastslow.errors import InputError

MODES = ("reproducible", "native")
ENV = "EVO_FASTSLOW_NUMERICS"
_scope = threading.local()  # the mode fixed for the lifetime running in this thread, if any


def numerics_mode() -> str:
    mode = getattr(_scope, "mode", None) or os.environ.get(ENV, "reproducible")
    if mode not in MODES:
        raise InputError("environment", f"{ENV}={mode!r}", f"one of {', '.join(MODES)}")
    return mode


def reproducible() -> bool:
    mode = getattr(_scope, "mode", None)  # read per op: the environment only once per lifetime
    return (mode or numerics_mode()) == "reproducible"


@contextmanager
def fixed_mode() -> Iterator[str]:
    """Within this block (a lifetime), the mode read from the environment once."""
    previous = getattr(_scope, "mode", None)
    _scope.mode = numerics_mode()
    try:
        yield _scope.mode
    finally:
        _scope.mode = previous
