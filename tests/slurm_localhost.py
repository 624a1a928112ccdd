"""A real single-node Slurm on this machine for tests: munged, slurmctld and slurmd started with a
config of our own (SLURM_CONF), stopped by their pid files afterwards. Installs Debian's slurm-wlm and
munge first when they are missing (as root, with apt-get: what .ci/run also does up front)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from system_packages import ensure_installed as ensure_system

PACKAGES = ("slurm-wlm", "munge")


def ensure_installed() -> None:
    ensure_system(("slurmctld", "slurmd", "munged", "sbatch"), PACKAGES)


def _memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 1024
    return 4096


def _config(folder: Path, host: str) -> Path:
    for name in ("ctld", "d", "state"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    config = folder / "slurm.conf"
    config.write_text("\n".join([
        "ClusterName=evofastslow", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
        "ReturnToService=2", f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'd'}",
        f"SlurmctldPidFile={folder / 'ctld.pid'}", f"SlurmdPidFile={folder / 'd.pid'}",
        f"SlurmctldLogFile={folder / 'ctld.log'}", f"SlurmdLogFile={folder / 'd.log'}",
        "SlurmctldPort=6917", "SlurmdPort=6918", "MpiDefault=none",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory={_memory_mib()} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""]))
    return config


def _stop(pid_file: Path) -> None:
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


@contextmanager
def slurm(folder: Path, timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """Yields the environment (SLURM_CONF) under which sbatch, squeue and dask-jobqueue reach it."""
    ensure_installed()
    host = socket.gethostname()
    config = _config(folder, host)
    env = {**os.environ, "SLURM_CONF": str(config)}
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["mungekey", "-c"], check=True)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    subprocess.run(["munged", "--force"], check=False, capture_output=True)  # already running: fine
    subprocess.run(["slurmctld"], check=True, env=env)
    subprocess.run(["slurmd"], check=True, env=env)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip()
            if state in ("idle", "mix", "alloc"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the Slurm node did not come up: sinfo says {state!r}; see {folder}")
        yield {"SLURM_CONF": str(config)}
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        _stop(folder / "d.pid")
        _stop(folder / "ctld.pid")
        time.sleep(1)
