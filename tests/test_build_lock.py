"""A kernel build killed mid-compilation (a job's time limit, the OOM killer) must not hang the next
lifetime on that machine; a live build is waited for, said so, and only so long (numerics/build.py).
Real builds in a fresh TORCH_EXTENSIONS_DIR, a real SIGKILL of the building process group."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lifetime(tmp_path: Path, env: dict[str, str], **kwargs) -> list[str]:
    suite = yaml.safe_load((ROOT / "fitness" / "bandit-independent.yaml").read_text())
    suite["lifetime"]["train_env_steps"], suite["test"]["episodes"] = 20000, 20
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(suite))
    return [sys.executable, "-m", "evo_fastslow.cli", "lifetime", "--genome",
            str(ROOT / "populations" / "reference.json:wang2016-lstm"), "--suite", str(path), "--json"]


def _build_folder(env: dict[str, str]) -> Path:
    code = ("from torch.utils.cpp_extension import _get_build_directory\nfrom evo_fastslow.numerics import build\n"
            "print(_get_build_directory(build.build_name(), verbose=False))")
    return Path(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                               check=True).stdout.strip())


def test_a_lifetime_after_a_build_killed_mid_compilation_finishes(tmp_path):
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "extensions")}
    command = _lifetime(tmp_path, env)
    folder = _build_folder(env)
    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not (folder / "lock").exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert (folder / "lock").exists(), "the first build must have started compiling"
    time.sleep(2.0)  # in the middle of the compilation
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert (folder / "lock").exists() and not list(folder.glob("*.so"))  # left behind: a dead build's lock
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert '"test_regret"' in second.stdout and list(folder.glob("*.so"))


def test_a_live_build_is_waited_for_said_so_and_only_so_long(tmp_path):
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "extensions"), "EVO_FASTSLOW_BUILD_WAIT": "3"}
    folder = _build_folder(env)
    with open(folder / "evo_fastslow-build.lock", "a+") as held:  # a live build elsewhere holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 4242 on node7, building since 2026-12-07 10:00:00")
        held.flush()
        started = time.time()
        proc = subprocess.run(_lifetime(tmp_path, env), env=env, capture_output=True, text=True, timeout=300)
    assert time.time() - started < 120
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"waiting for the kernel build in {folder} (pid 4242 on node7" in proc.stderr, proc.stderr
    assert f"evo-fastslow: error: {folder}: waited" in proc.stderr and "EVO_FASTSLOW_BUILD_WAIT" in proc.stderr
