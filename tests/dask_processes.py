"""Real Dask processes for tests: a `dask scheduler` and `dask worker` processes on loopback, each
worker with its own environment (for example another numerics mode), stopped afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DASK = str(Path(sys.executable).with_name("dask"))


def temporary_certificates(folder: Path) -> dict[str, str]:
    """Self-signed certificates (distributed's Security.temporary) written as files: ca_file, cert, key."""
    from distributed.security import Security

    security = Security.temporary()
    files = {"ca_file": security.tls_ca_file, "cert": security.tls_client_cert, "key": security.tls_client_key}
    paths = {}
    for name, pem in files.items():
        path = folder / f"{name}.pem"
        path.write_text(pem)
        paths[name] = str(path)
    return paths


def _tls_flags(tls: dict[str, str] | None) -> list[str]:
    if tls is None:
        return []
    return ["--tls-ca-file", tls["ca_file"], "--tls-cert", tls["cert"], "--tls-key", tls["key"]]


@contextmanager
def dask_processes(tmp_path: Path, worker_envs: list[dict[str, str]], timeout: float = 60.0,
                   tls: dict[str, str] | None = None, workers: list | None = None) -> Iterator[str]:
    """Yields the scheduler's address once every worker has joined (over TLS with `tls` files). The
    worker processes (each its own process group: nanny and worker) are appended to `workers`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    scheduler_file = tmp_path / "scheduler.json"
    protocol = ["--protocol", "tls"] if tls else []
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file), *protocol, *_tls_flags(tls)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.time() + timeout
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for i, extra in enumerate(worker_envs):
            procs.append(subprocess.Popen(
                [DASK, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                 "--host", "127.0.0.1", *_tls_flags(tls)], env={**os.environ, "OMP_NUM_THREADS": "1", **extra},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
            if workers is not None:
                workers.append(procs[-1])
        from distributed import Client
        from distributed.security import Security

        security = Security(tls_ca_file=tls["ca_file"], tls_client_cert=tls["cert"], tls_client_key=tls["key"],
                            require_encryption=True) if tls else None
        with Client(address, timeout=timeout, security=security) as client:
            client.wait_for_workers(len(worker_envs), timeout=timeout)
        yield address
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGCONT)  # a process stopped by a test must be able to end
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
