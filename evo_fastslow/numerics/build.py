"""Building and loading the C++ extension (det_math, the deterministic ops, the fused A2C kernel).

Built with gcc and ninja on first use (15-30 s, once per machine and source version) into torch's
extension cache (`TORCH_EXTENSIONS_DIR` moves it), under a name carrying the hash of the sources and
flags (and of the folder they are in, so that two checkouts never share a build directory): an edited
source is rebuilt, never mixed with an old build. A build lock left by a process killed mid-build
(a job's time limit, the OOM killer) would make every later process wait forever (torch's file baton
holds no owner): so a build first takes an advisory lock of its own (`flock` on `evo_fastslow-build.lock`
beside it, which the kernel releases when its holder dies, however it dies, and which names the holder).
Holding it, any torch lock left in the directory is a dead build's and is removed; not getting it, a live
build is waited for, the user told which directory and since when, for at most BUILD_WAIT_SECONDS
(`EVO_FASTSLOW_BUILD_WAIT`), then a clear error naming the directory. The flags are part of the numeric
contract: `-ffp-contract=off` (no fused multiply-add the source did not ask for) and no fast-math; the
loops pick their instruction-set variant at load time and every variant gives the same bits.
`-fno-trapping-math` lets gcc vectorise the elementwise loops (the clamps in det::exp are branches it
would not if-convert otherwise: 2.6x faster sigmoids); it changes no result, only whether an FP
exception may be raised by an operation whose result is then discarded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).parent
SOURCES = [HERE / "det_math.cpp", HERE / "ops.cpp", HERE / "recurrent_a2c.cpp", HERE / "episodic_lstm.cpp",
           HERE / "numpy_ops.cpp"]
HEADERS = [HERE / "det_math.h", HERE / "det_blocks.h", HERE / "ops.h"]
FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-trapping-math", "-std=c++17", "-Wno-psabi"]

BUILD_WAIT_SECONDS = 900.0  # a build takes well under a minute; a shared, busy node may be slower
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
        except BuildWaitError:
            raise  # another process is still building: a later call may find its build
        except Exception as error:  # no compiler, no ninja, no headers
            _state["error"] = error
            raise RuntimeError(f"the evo-fastslow kernels could not be built: {error}") from error
        return _state["module"]


def build_name() -> str:
    """The extension's name: the build's id and the folder of its sources (two checkouts never share it)."""
    return f"evo_fastslow_kernels_{build_id()}_{hashlib.sha256(str(HERE.resolve()).encode()).hexdigest()[:6]}"


class BuildWaitError(RuntimeError):
    """Another process has been building the kernels for longer than this one may wait."""


def _build() -> Any:
    from torch.utils.cpp_extension import _get_build_directory, load as load_extension

    if shutil.which("ninja") is None:  # the `ninja` dependency's binary, when its venv is not activated
        import ninja

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    name = build_name()
    folder = Path(_get_build_directory(name, verbose=False))
    with _build_lock(folder):
        (folder / "lock").unlink(missing_ok=True)  # we hold the build lock: a torch lock here is a dead build's
        return load_extension(name=name, sources=[str(s) for s in SOURCES], extra_cflags=FLAGS,
                              extra_include_paths=[str(HERE)], is_python_module=True, verbose=False)


@contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    """Hold `folder`'s advisory build lock (released by the kernel if this process dies); wait for a live
    holder, saying so, at most BUILD_WAIT_SECONDS."""
    import fcntl
    import socket
    import sys

    limit = float(os.environ.get("EVO_FASTSLOW_BUILD_WAIT", BUILD_WAIT_SECONDS))
    path = folder / "evo_fastslow-build.lock"
    with open(path, "a+") as handle:
        started, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                waited = time.monotonic() - started
                if waited > limit:
                    raise BuildWaitError(f"{folder}: waited {waited:.0f} s for the kernel build of {holder}; if no "
                                         f"such build is running, delete {path} (EVO_FASTSLOW_BUILD_WAIT sets the "
                                         "wait)") from None
                if not told:
                    print(f"evo-fastslow: waiting for the kernel build in {folder} ({holder})", file=sys.stderr,
                          flush=True)
                    told = True
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, building since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
