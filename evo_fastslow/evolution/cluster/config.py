"""What a run config's `cluster:` section says: where evaluations run and how the scheduler is reached.

Apart from the evaluator (evolution/cluster/evaluator.py) so that the job-queue code and the run config
can read it without importing the evaluator."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TLSFiles(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    ca_file: str = Field(description="the certificate authority that signed the scheduler's and workers' certificates")
    cert: str = Field(description="this client's certificate (PEM)")
    key: str = Field(description="this client's private key (PEM)")


class AdaptConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    minimum: int = Field(0, ge=0, description="batch jobs kept at least")
    maximum: int = Field(ge=1, le=100_000, description="batch jobs at most")


class JobQueueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["slurm", "pbs"] = Field(description="the batch system")
    jobs: int = Field(1, ge=1, le=100_000, description="batch jobs to start, each one worker process")
    cores: int = Field(1, ge=1, le=1024, description="cores per job")
    memory: str = Field("4GiB", description="memory per job")
    walltime: str = Field("02:00:00", description="wall time per job")
    options: dict[str, Any] = Field(default_factory=dict, description="more dask-jobqueue keyword arguments")
    adapt: AdaptConfig | None = Field(None, description="Dask's adaptive scaling between minimum and maximum jobs "
                                                         "(workers join and leave mid-run) instead of `jobs`")


class ClusterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    workers: int | None = Field(None, ge=0, le=1024, description="LocalCluster worker processes (default: one per core); "
                                                         "0 evaluates in-process, for debugging")
    address: str | None = Field(None, description="connect to this running Dask scheduler instead")
    jobqueue: JobQueueConfig | None = Field(None, description="start workers as SLURM/PBS jobs")
    evaluation_timeout: float | None = Field(None, gt=0, description="seconds a lifetime may train: a safety net "
                                             "only (machine-dependent); env-steps decide fitness")
    straggler_seconds: float | None = Field(None, gt=0, description="an evaluation running this long on one "
                                            "worker gets a backup copy on another (a frozen or failing node); the "
                                            "first to finish counts: evaluations are pure, so the result is the same. "
                                            "Also how long fetching a finished result may take before the job is "
                                            "evaluated again elsewhere. Default: adaptive (straggler_multiple)")
    straggler_multiple: float | None = Field(3.0, gt=1, description="without straggler_seconds: a job running "
                                             "longer than this multiple of its expected time (the running median "
                                             "of this run's seconds per unit of expected cost, times its cost; "
                                             "at least straggler_floor) gets a backup copy, as Spark's speculative "
                                             "execution does; null: no backup copies")
    straggler_floor: float = Field(10.0, gt=0, description="seconds: the adaptive limit is never shorter "
                                   "(nor before two jobs have finished)")
    security: Literal["temporary", "none"] | TLSFiles | None = Field(
        None, description="TLS for a job queue or a scheduler address: temporary (certificates made for the run; "
                          "the default for a job queue), {ca_file, cert, key}, or none (plain TCP, on purpose)")
    dashboard: str = Field("127.0.0.1:0", description="where a scheduler this run starts serves its dashboard")
    kernel_cache: str | None = Field(None, description="directory for the compiled kernels, shared by the driver "
                                                       "and the workers (TORCH_EXTENSIONS_DIR)")

    @model_validator(mode="after")
    def _reached_safely(self) -> "ClusterConfig":
        """Checked when the config is read, before anything connects."""
        address, security = self.address or "", self.security
        if not address or isinstance(security, TLSFiles):
            return self
        if address.startswith("tls://"):
            raise ValueError(f"cluster.security: {{ca_file, cert, key}}: the certificates to reach {address}")
        if security != "none" and not _is_loopback(address):
            raise ValueError(f"cluster.security: TLS files to reach {address}, or `none` to use plain TCP on purpose "
                             "(anyone who reaches a Dask scheduler can run code through it)")
        return self


def _is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")
