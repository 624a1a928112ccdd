"""Building and loading the C++ extension (det_math, the deterministic ops, the fused A2C kernel).

Built with gcc and ninja on first use (15-30 s, once per machine and source version) into torch's
extension cache (`TORCH_EXTENSIONS_DIR` moves it), under a name carrying the hash of the sources and
flags (and of the folder they are in, so that two checkouts never share a build directory): an edited
source is rebuilt, never mixed with an old build. A build lock left by a process killed mid-build
would make every later process wait forever (torch's file baton): one older than STALE_LOCK_SECONDS
(a build takes well under a minute) is removed, with a warning. The flags are part of the numeric
contract: `-ffp-contract=off` (no fused multiply-add the source did not ask for) and no fast-math; the
loops pick their instruction-set variant at load time and every variant gives the same bits.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SOURCES = [HERE / "det_math.cpp", HERE / "ops.cpp", HERE / "recurrent_a2c.cpp", HERE / "episodic_lstm.cpp",
           HERE / "numpy_ops.cpp"]
HEADERS = [HERE / "det_math.h", HERE / "det_blocks.h", HERE / "ops.h"]
FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c++17", "-Wno-psabi"]

STALE_LOCK_SECONDS = 600.0
_lock = threading.Lock()
_state: dict[str, object] = {}  # "module": the loaded extension, or "error": the exception of the failed build


def build_id() -> str:
    """Names the exact build: sources, headers and flags (recorded in every fingerprint)."""
    digest = hashlib.sha256()
    for path in SOURCES + HEADERS:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(" ".join(FLAGS).encode())
    return digest.hexdigest()[:12]


def load() -> Any:
    """Build (once per machine) and load the extension into this process; raises if it cannot. Returns
    its Python module (NumPy functions); the torch ops are under torch.ops.evo_fastslow."""
    with _lock:
        if "module" in _state:
            return _state["module"]
        if "error" in _state:
            raise RuntimeError(f"the evo-fastslow kernels could not be built: {_state['error']}")
        try:
            _state["module"] = _build()
        except Exception as error:  # no compiler, no ninja, no headers
            _state["error"] = error
            raise RuntimeError(f"the evo-fastslow kernels could not be built: {error}") from error
        return _state["module"]


def _build() -> Any:
    from torch.utils.cpp_extension import load as load_extension

    if shutil.which("ninja") is None:  # the `ninja` dependency's binary, when its venv is not activated
        import ninja

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    name = f"evo_fastslow_kernels_{build_id()}_{hashlib.sha256(str(HERE.resolve()).encode()).hexdigest()[:6]}"
    _remove_stale_lock(name)
    return load_extension(name=name, sources=[str(s) for s in SOURCES], extra_cflags=FLAGS,
                          extra_include_paths=[str(HERE)], is_python_module=True, verbose=False)


def _remove_stale_lock(name: str) -> None:
    from torch.utils.cpp_extension import _get_build_directory

    lock = Path(_get_build_directory(name, verbose=False)) / "lock"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return
    if age > STALE_LOCK_SECONDS:
        warnings.warn(f"removing {lock}, left {age:.0f} s ago by a build that did not finish", RuntimeWarning,
                      stacklevel=3)
        lock.unlink(missing_ok=True)
