"""SLURM for real: a single-node Slurm started on this machine (tests/slurm_localhost.py); a short
evolution with `cluster.jobqueue.kind: slurm` starts its workers as real batch jobs, over TLS with
certificates made for the run (the default), writes the job logs into the run directory, and leaves
the archive the in-process run leaves. PBS has no server here: its generated job script is checked."""

import os
from pathlib import Path

import dask

from evo_fastslow.evolution.cluster.config import ClusterConfig
from evo_fastslow.evolution.cluster.jobqueue import server_security
from runs import evolve, snapshot
from slurm_localhost import slurm





def test_an_evolution_on_slurm_jobs_over_tls_equals_the_in_process_run(tmp_path):
    """Fixed jobs, then adaptive scaling (jobs start and stop as Dask asks): the same archive."""
    assert evolve(tmp_path / "in-process", "cluster.workers=0").returncode == 0
    queue = ["cluster.jobqueue.kind=slurm", "cluster.jobqueue.memory=2GiB", "cluster.jobqueue.walltime=00:10:00",
             "cluster.jobqueue.options={queue: debug}"]
    with slurm(tmp_path / "slurm") as slurm_env:
        env = {**os.environ, **slurm_env}
        run = evolve(tmp_path / "slurm-run", *queue, "cluster.jobqueue.jobs=2", env=env)
        adaptive = evolve(tmp_path / "adaptive", *queue, "cluster.jobqueue.adapt={minimum: 0, maximum: 2}", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert adaptive.returncode == 0, adaptive.stderr[-3000:]
    assert "warning" not in adaptive.stderr  # no worker at the start: the first evaluation sets the fingerprint
    assert snapshot(tmp_path / "slurm-run") == snapshot(tmp_path / "in-process")
    assert snapshot(tmp_path / "adaptive") == snapshot(tmp_path / "in-process")
    logs = list((tmp_path / "slurm-run" / "logs").glob("*.out")) + list((tmp_path / "slurm-run" / "logs").glob("*.err"))
    assert logs, "the batch jobs' logs belong in the run directory"
    assert not list(Path.cwd().glob("slurm-*.out")), "no job log in the working directory"
    workers = {row[0] for row in __import__("sqlite3").connect(tmp_path / "slurm-run" / "archive.sqlite").execute(
        "SELECT DISTINCT worker FROM evaluations")}
    assert all(worker.startswith("tls://") for worker in workers), workers  # the workers spoke TLS


def test_the_pbs_job_script_carries_the_resources_and_tls(tmp_path):
    """No PBS server runs here: dask-jobqueue's generated job script is what can be checked."""
    import dask_jobqueue

    config = ClusterConfig(jobqueue={"kind": "pbs", "cores": 2, "memory": "3GiB", "walltime": "01:00:00"})
    with dask.config.set({"jobqueue.pbs.shared_temp_directory": str(tmp_path)}):
        cluster = dask_jobqueue.PBSCluster(cores=2, processes=1, memory="3GiB", walltime="01:00:00",
                                           security=server_security(config), log_directory=str(tmp_path),
                                           scheduler_options={"dashboard_address": "127.0.0.1:0"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#PBS -l walltime=01:00:00" in script and "ncpus=2" in script and "mem=3" in script
    assert "--tls-ca-file" in script and "tls://" in script
