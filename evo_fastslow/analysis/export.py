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


def _front_ids(archive: Archive) -> set[int]:
    from evo_fastslow.analysis.maps import front

    return {r.id for r, _, _ in front(archive)}


def evaluations_frame(archive: Archive) -> pd.DataFrame:
    evaluations, on_front = archive.evaluations(), _front_ids(archive)
    rows = []
    for g in archive.genomes():
        row: dict[str, Any] = {"genome_id": g.id, "generation": g.generation, "index": g.idx, "origin": g.origin,
                               "parents": json.dumps(g.parents), "on_front": g.id in on_front,
                               **{f"gene.{k}": v for k, v in g.genes.items()}}
        e = evaluations.get(g.id)
        if e is not None:
            row.update({"status": e.status, "reason": e.reason, "fitness": e.fitness, "replicates": e.replicates,
                        "fitness_ci_low": e.ci_low, "fitness_ci_high": e.ci_high, "rung": e.rung,
                        "decision": e.decision, **_scalars("score.", e.scores),
                        **_scalars("", e.metrics), "wall_seconds": e.wall_seconds, "worker": e.worker,
                        "fingerprint": e.fingerprint, "started_at": e.started_at, "finished_at": e.finished_at})
        rows.append(row)
    return pd.DataFrame(rows)


def replicates_frame(archive: Archive) -> pd.DataFrame:
    front_ids = _front_ids(archive)
    on_front = {json.dumps(g.genes, sort_keys=True) for g in archive.genomes() if g.id in front_ids}
    rows = [{"study": study, "replicate": r, "on_front": json.dumps(genes, sort_keys=True) in on_front,
             **{f"gene.{k}": v for k, v in genes.items()},
             "status": o["status"], "reason": o["reason"], "fitness": o["fitness"], **_scalars("", o["metrics"])}
            for genes, study, r, o in archive.replicates()]
    return pd.DataFrame(rows)


def export(run_dir: Path, fmt: str, out_dir: Path, only_front: bool = False) -> list[Path]:
    """Write evaluations.<fmt> and replicates.<fmt> into out_dir (only the Pareto front's genomes and
    their replicates with `only_front`); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with Archive(run_dir / "archive.sqlite", create=False, skip_damaged=True) as archive:
        evaluations, replicates = evaluations_frame(archive), replicates_frame(archive)
        if only_front:
            evaluations = evaluations[evaluations.on_front]
            replicates = replicates[replicates.on_front] if len(replicates) else replicates
        for name, frame in (("evaluations", evaluations), ("replicates", replicates)):
            path = out_dir / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
    return written
