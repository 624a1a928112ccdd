"""Who may reach a run's scheduler, and workers as batch jobs: TLS for clients and servers, and the
SLURM/PBS cluster through dask-jobqueue (job logs and temporary certificates in the run directory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evo_fastslow.evolution.cluster.config import ClusterConfig, TLSFiles


def client_security(config: ClusterConfig) -> Any:
    """TLS files given: mutual TLS; otherwise plain TCP (loopback, or `security: none`: ClusterConfig checked)."""
    security = config.security
    if not isinstance(security, TLSFiles):
        return None
    from distributed.security import Security

    return Security(tls_ca_file=security.ca_file, tls_client_cert=security.cert, tls_client_key=security.key,
                    require_encryption=True)


def server_security(config: ClusterConfig) -> Any:
    """The job queue's scheduler and workers: TLS unless the config says `none`."""
    from distributed.security import Security

    security = config.security or "temporary"
    if security == "none":
        return None
    if security == "temporary":
        return Security.temporary()
    return Security(tls_ca_file=security.ca_file, tls_client_cert=security.cert, tls_client_key=security.key,
                    tls_scheduler_cert=security.cert, tls_scheduler_key=security.key, tls_worker_cert=security.cert,
                    tls_worker_key=security.key, require_encryption=True)


def jobqueue_cluster(config: ClusterConfig, run_dir: Path | None) -> Any:
    import dask
    import dask_jobqueue

    queue = config.jobqueue
    assert queue is not None
    kind = dask_jobqueue.SLURMCluster if queue.kind == "slurm" else dask_jobqueue.PBSCluster
    logs = (run_dir or Path.cwd()) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    prologue = [f"export TORCH_EXTENSIONS_DIR={os.environ['TORCH_EXTENSIONS_DIR']}"] \
        if config.kernel_cache else []
    options = {"job_script_prologue": prologue, **queue.options}
    scheduler_options = {"dashboard_address": config.dashboard, **options.pop("scheduler_options", {})}
    # temporary certificates are written where the jobs can read them: the run directory (shared)
    with dask.config.set({f"jobqueue.{queue.kind}.shared_temp_directory": str(logs)}):
        cluster = kind(cores=queue.cores, processes=1, memory=queue.memory, walltime=queue.walltime,
                       security=server_security(config), log_directory=str(logs),
                       scheduler_options=scheduler_options, **options)
    if queue.adapt is not None:
        cluster.adapt(minimum_jobs=queue.adapt.minimum, maximum_jobs=queue.adapt.maximum)
    else:
        cluster.scale(jobs=queue.jobs)
    return cluster
