"""`export`: a run as tables for pandas, R or a spreadsheet: one row per genome and its evaluation
(genes as columns), and one row per replicate lifetime of `validate`/`ablate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from evo_fastslow.archive import Archive

FORMATS = ("csv", "parquet")


def _scalars(prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    """Flatten {suite: {metric: value}} to {prefix.suite.metric: value}, scalars only."""
    flat = {}
    for suite, metrics in data.items():
        if isinstance(metrics, dict):
            flat.update({f"{prefix}{suite}.{k}": v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))})
        elif isinstance(metrics, (int, float)):
            flat[f"{prefix}{suite}"] = metrics
    return flat


def evaluations_frame(archive: Archive) -> pd.DataFrame:
    evaluations = archive.evaluations()
    rows = []
    for g in archive.genomes():
        row: dict[str, Any] = {"genome_id": g.id, "generation": g.generation, "index": g.idx, "origin": g.origin,
                               "parents": json.dumps(g.parents), **{f"gene.{k}": v for k, v in g.genes.items()}}
        e = evaluations.get(g.id)
        if e is not None:
            row.update({"status": e.status, "reason": e.reason, "fitness": e.fitness, **_scalars("score.", e.scores),
                        **_scalars("", e.metrics), "wall_seconds": e.wall_seconds, "worker": e.worker,
                        "fingerprint": e.fingerprint, "started_at": e.started_at, "finished_at": e.finished_at})
        rows.append(row)
    return pd.DataFrame(rows)


def replicates_frame(archive: Archive) -> pd.DataFrame:
    rows = [{"study": study, "replicate": r, **{f"gene.{k}": v for k, v in genes.items()},
             "status": o["status"], "reason": o["reason"], "fitness": o["fitness"], **_scalars("", o["metrics"])}
            for genes, study, r, o in archive.replicates()]
    return pd.DataFrame(rows)


def export(run_dir: Path, fmt: str, out_dir: Path) -> list[Path]:
    """Write evaluations.<fmt> and replicates.<fmt> into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with Archive(run_dir / "archive.sqlite", create=False) as archive:
        for name, frame in (("evaluations", evaluations_frame(archive)), ("replicates", replicates_frame(archive))):
            path = out_dir / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
    return written
