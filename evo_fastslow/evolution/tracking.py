"""Experiment tracking: a run's progress written where researchers compare runs (TensorBoard, MLflow).

Optional (`pip install 'evo-fastslow[tracking]'`) and chosen in the run config's `tracking:` section.
Per generation (or epoch): best and mean fitness with the best's evidence (n, interval), the share of
each choice of every categorical gene and the median of every numeric one, env-steps spent, busy
workers (the same names in both: `fitness/best`, `genes/core:lstm`, ...); per evaluation: its fitness
and genes; the resolved config when the run starts and the best
genome at the end of each generation, as artifacts; `validate` adds each winner's validated fitness.
The archive stays the record: trackers are written from it, and a resumed run goes on in the same
TensorBoard directory and the same MLflow run (its id is kept in the archive).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from evo_fastslow.errors import InputError, output_dir
from evo_fastslow.genes import Bool, Categorical

if TYPE_CHECKING:
    from evo_fastslow.archive import Archive, Evaluation, GenomeRecord
    from evo_fastslow.genome import SearchSpace
    from evo_fastslow.evolution.stats import GenerationStats


class TrackingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    tensorboard: str | None = Field(None, description="directory for TensorBoard event files (relative: inside "
                                    "the run directory)")
    mlflow: str | None = Field(None, description="an MLflow tracking URI (sqlite:///..., http://...), or a "
                               "directory (relative: inside the run directory) for a local SQLite store "
                               "(mlflow.db) and its artifacts")
    experiment: str | None = Field(None, description="MLflow experiment name (default: the run's name)")


def _where(value: str, run_dir: Path, config_path: str, field: str) -> Path:
    if not value.strip():
        raise InputError(config_path, field, "a directory, not an empty path")
    path = Path(value) if Path(value).is_absolute() else run_dir / value
    return output_dir(path, "a directory for the tracker's files", (config_path, field))


class Tracker:
    """Writes a run's progress to the trackers its config names (none: every call does nothing)."""

    def __init__(self, config: TrackingConfig, run_dir: Path, run_name: str, config_path: str,
                 choices: Mapping[str, Sequence[Any]] | None = None):
        """Checks what the config names (paths, installed packages) and writes nothing yet: `start` does.
        `choices` are the search space's (see `space_choices`): a choice no genome carries is logged as 0."""
        self.choices = dict(choices or {})
        self.writer: Any = None
        self.client: Any = None
        self.run_id, self.run_name = "", run_name
        self.tensorboard = self.uri = self.artifacts = None
        if config.tensorboard is not None:
            self.tensorboard = _where(config.tensorboard, run_dir, config_path, "tracking.tensorboard")
            _need("torch.utils.tensorboard", "tensorboard", config_path, "tracking.tensorboard")
        if config.mlflow is not None:
            self.uri, self.artifacts = _mlflow_uri(config.mlflow, run_dir, config_path)
            _need("mlflow.tracking", "mlflow-skinny", config_path, "tracking.mlflow")
            if self.uri.startswith("sqlite:"):
                _need("sqlalchemy", "sqlalchemy", config_path, "tracking.mlflow")
                _need("alembic", "alembic", config_path, "tracking.mlflow")
        self.experiment = config.experiment or run_name

    def _open(self) -> None:
        if self.tensorboard is not None and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.tensorboard))
        if self.uri is not None and self.client is None:
            from mlflow.tracking import MlflowClient

            if self.artifacts is not None:
                Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.client = MlflowClient(tracking_uri=self.uri)

    @property
    def active(self) -> bool:
        return self.writer is not None or self.client is not None

    def start(self, archive: "Archive", resolved_config: dict[str, Any]) -> None:
        """Open (or, on resume, reopen) the MLflow run; record the config as parameters and an artifact."""
        import yaml

        self._open()
        text = yaml.safe_dump(resolved_config, sort_keys=False)
        if self.writer is not None and archive.meta("tensorboard_started") is None:
            self.writer.add_text("config", f"```\n{text}\n```", 0)
            archive.set_meta("tensorboard_started", True)
        if self.client is None:
            return
        self.run_id = archive.meta("mlflow_run_id") or ""
        if self.run_id:
            self.client.update_run(self.run_id, status="RUNNING")
            return
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(
            self.experiment, artifact_location=self.artifacts)
        self.run_id = self.client.create_run(experiment_id, run_name=self.run_name).info.run_id
        archive.set_meta("mlflow_run_id", self.run_id)
        from mlflow.entities import Param

        flat = _flatten({k: v for k, v in resolved_config.items() if k != "embedded_suites"})
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in sorted(flat.items())])
        self.client.log_text(self.run_id, text, "config.yaml")

    def attach(self, archive: "Archive") -> None:
        """Write to the MLflow run the archive's run already has (after the run, for `validate`)."""
        self._open()
        self.run_id = archive.meta("mlflow_run_id") or ""

    def generation(self, stats: "GenerationStats", archive: "Archive", records: list["GenomeRecord"],
                   evaluations: dict[int, "Evaluation"], env_steps: int) -> None:
        """One generation's (or epoch's) figures, its evaluations, and the best genome so far."""
        if not self.active:
            return
        step = stats.generation
        best = evaluations.get(stats.best_id) or archive.evaluations([stats.best_id]).get(stats.best_id)
        figures = {"fitness/best": stats.best, "fitness/mean": stats.mean, "evaluations/done": stats.evaluations,
                   "evaluations/failed": stats.failures, "env_steps/spent": env_steps,
                   "cluster/busy_workers": stats.lifetime_seconds / max(stats.wall_seconds, 1e-9)}
        if best is not None:
            figures["fitness/best_replicates"] = best.replicates
            if best.replicates > 1:
                figures.update({"fitness/best_ci_low": best.ci_low, "fitness/best_ci_high": best.ci_high})
        figures.update(gene_figures([r.genes for r in records], self.choices))
        rows = [{"genome_id": r.id, "fitness": evaluations[r.id].fitness, "status": evaluations[r.id].status,
                 "genes": r.genes} for r in records if r.id in evaluations]
        ranked = archive.ranked(1)
        best_genome = ({"genome_id": ranked[0][0].id, "fitness": ranked[0][1].fitness, "genes": ranked[0][0].genes}
                       if ranked else None)
        if self.writer is not None:
            for name, value in figures.items():
                self.writer.add_scalar(name, value, step)
            for row in rows:
                if row["status"] == "ok":
                    self.writer.add_scalar("evaluation/fitness", row["fitness"], row["genome_id"])
                self.writer.add_text("evaluation/genes", json.dumps(row["genes"], sort_keys=True), row["genome_id"])
            if best_genome:
                self.writer.add_text("best_genome", json.dumps(best_genome, sort_keys=True), step)
            self.writer.flush()
        if self.client is not None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            metrics = [Metric(name, float(value), now, step) for name, value in figures.items()]
            metrics += [Metric("evaluation/fitness", float(row["fitness"]), now, row["genome_id"])
                        for row in rows if row["status"] == "ok"]
            for start in range(0, len(metrics), 900):  # MLflow's batch limit is 1000 metrics
                self.client.log_batch(self.run_id, metrics=metrics[start:start + 900])
            self.client.log_dict(self.run_id, rows, f"evaluations/generation-{step + 1:04d}.json")
            if best_genome:
                self.client.log_dict(self.run_id, best_genome, "best_genome.json")

    def validated(self, step: int, results: list[tuple[int | None, float]]) -> None:
        """`validate`'s figures on fresh seeds: (genome id, validated mean fitness) at `step`."""
        for genome_id, value in results:
            if self.writer is not None:
                self.writer.add_scalar(f"validated/genome_{genome_id}", value, step)
            if self.client is not None and self.run_id:
                self.client.log_metric(self.run_id, f"validated/genome_{genome_id}", float(value), step=step)
        if self.writer is not None:
            self.writer.flush()

    def close(self, finished: bool) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.client is not None and self.run_id:
            self.client.set_terminated(self.run_id, "FINISHED" if finished else "KILLED")


def gene_figures(genomes: list[dict[str, Any]],
                 choices: Mapping[str, Sequence[Any]] | None = None) -> dict[str, float]:
    """Per gene: the share of each choice (categorical, boolean) or the median (numeric).

    A choice of `choices` (the search space's) that no genome carries gets a share of 0, so its curve
    drops to zero instead of stopping."""
    figures: dict[str, float] = {}
    if not genomes:
        return figures
    for name in sorted(genomes[0]):
        values = [g[name] for g in genomes]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            figures[f"genes/{name}_median"] = float(statistics.median(values))
        else:
            counts = Counter({str(c): 0 for c in (choices or {}).get(name, ())})
            counts.update(str(v) for v in values)
            for choice, count in sorted(counts.items()):
                figures[f"genes/{name}:{choice}"] = count / len(values)
    return figures


def space_choices(space: "SearchSpace") -> dict[str, list[Any]]:
    """The choices of each categorical and boolean gene the space searches."""
    found: dict[str, list[Any]] = {}
    for name in space.free:
        gene = space.genes[name]
        if isinstance(gene, Categorical):
            found[name] = list(gene.choices)
        elif isinstance(gene, Bool):
            found[name] = [False, True]
    return found


def _mlflow_uri(value: str, run_dir: Path, config_path: str) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment)."""
    if "://" in value:
        return value, None
    folder = _where(value, run_dir, config_path, "tracking.mlflow")
    return f"sqlite:///{folder.resolve() / 'mlflow.db'}", (folder.resolve() / "artifacts").as_uri()


def _need(module: str, package: str, config_path: str, field: str) -> None:
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found or (package == "tensorboard" and importlib.util.find_spec("tensorboard") is None):
        raise InputError(config_path, field, f"the {package} package installed (pip install 'evo-fastslow[tracking]')")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): json.dumps(data) if isinstance(data, (list, tuple)) else data}
