"""The archive: an SQLite record of a run, every genome it made and every evaluation, committed as it arrives.

WAL mode, one writer (the run's driver). Genome ids are `generation * population + index`, so a
resumed run writes the same ids as an uninterrupted one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    key TEXT PRIMARY KEY, value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS genomes (
    id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, idx INTEGER NOT NULL,
    genes TEXT NOT NULL, origin TEXT NOT NULL, parents TEXT NOT NULL,
    UNIQUE (generation, idx)
);
CREATE TABLE IF NOT EXISTS evaluations (
    genome_id INTEGER PRIMARY KEY REFERENCES genomes(id),
    status TEXT NOT NULL, reason TEXT NOT NULL, fitness REAL NOT NULL,
    scores TEXT NOT NULL, metrics TEXT NOT NULL, curves TEXT NOT NULL,
    wall_seconds REAL NOT NULL, worker TEXT NOT NULL, recorded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY, best_fitness REAL NOT NULL, mean_fitness REAL NOT NULL,
    best_genome_id INTEGER NOT NULL, evaluations INTEGER NOT NULL, failures INTEGER NOT NULL,
    wall_seconds REAL NOT NULL
);
"""


@dataclass(frozen=True)
class GenomeRecord:
    id: int
    generation: int
    idx: int
    genes: dict[str, Any]
    origin: str        # random | seeded | mutation | crossover | elite | sampled
    parents: list[int]


@dataclass(frozen=True)
class Evaluation:
    genome_id: int
    status: str        # ok | diverged | timeout | error | crashed
    reason: str
    fitness: float
    scores: dict[str, float]
    metrics: dict[str, Any]
    curves: dict[str, list]
    wall_seconds: float
    worker: str


class Archive:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- run metadata -------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO run VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # --- genomes and evaluations --------------------------------------------------------------
    def add_genomes(self, records: list[GenomeRecord]) -> None:
        """Insert a generation's genomes; on resume they are already there and must agree."""
        with self.db:
            for r in records:
                existing = self.db.execute("SELECT genes, origin, parents FROM genomes WHERE id = ?",
                                           (r.id,)).fetchone()
                row = (json.dumps(r.genes, sort_keys=True), r.origin, json.dumps(r.parents))
                if existing is None:
                    self.db.execute("INSERT INTO genomes VALUES (?, ?, ?, ?, ?, ?)",
                                    (r.id, r.generation, r.idx, *row))
                elif tuple(existing) != row:
                    raise RuntimeError(f"archive {self.path}: genome {r.id} differs from the one this run "
                                       "makes now (was the code or the config changed before resume?)")

    def add_evaluation(self, e: Evaluation) -> None:
        """Committed at once: a crash after this loses nothing of it."""
        self.db.execute(
            "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.genome_id, e.status, e.reason, e.fitness, json.dumps(e.scores, sort_keys=True),
             json.dumps(e.metrics, sort_keys=True), json.dumps(e.curves), e.wall_seconds, e.worker, time.time()))

    def evaluations(self, genome_ids: list[int] | None = None) -> dict[int, Evaluation]:
        """Evaluations by genome id: all, or those of `genome_ids` (a generation's, typically)."""
        if genome_ids is None:
            rows = self.db.execute("SELECT * FROM evaluations").fetchall()
        elif not genome_ids:
            return {}
        else:
            rows = self.db.execute(f"SELECT * FROM evaluations WHERE genome_id IN ({','.join('?' * len(genome_ids))})",
                                   genome_ids).fetchall()
        return {row[0]: _evaluation(row) for row in rows}

    def genomes(self, generation: int | None = None) -> list[GenomeRecord]:
        query, args = "SELECT * FROM genomes", ()
        if generation is not None:
            query, args = query + " WHERE generation = ?", (generation,)
        return [_genome(row) for row in self.db.execute(query + " ORDER BY id", args)]

    def end_generation(self, generation: int, best: float, mean: float, best_id: int, evaluations: int,
                       failures: int, wall_seconds: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (generation, best, mean, best_id, evaluations, failures, wall_seconds))

    def generation_summaries(self) -> Iterator[tuple]:
        yield from self.db.execute("SELECT * FROM generations ORDER BY generation")

    def ranked(self, limit: int | None = None) -> list[tuple[GenomeRecord, Evaluation]]:
        """Evaluated genomes, best fitness first (ties: earliest first)."""
        rows = self.db.execute(
            "SELECT g.*, e.* FROM genomes g JOIN evaluations e ON e.genome_id = g.id "
            "ORDER BY e.fitness DESC, g.id ASC" + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
        return [(_genome(row[:6]), _evaluation(row[6:])) for row in rows]

    def snapshot(self) -> list[tuple]:
        """What two runs must agree on: every genome and its evaluation's outcome (no timings, no workers)."""
        return self.db.execute(
            "SELECT g.id, g.generation, g.idx, g.genes, g.origin, g.parents, e.status, e.reason, e.fitness, "
            "e.scores, e.metrics FROM genomes g LEFT JOIN evaluations e ON e.genome_id = g.id ORDER BY g.id"
        ).fetchall()


def _genome(row: tuple) -> GenomeRecord:
    return GenomeRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], json.loads(row[5]))


def _evaluation(row: tuple) -> Evaluation:
    return Evaluation(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]),
                      json.loads(row[6]), row[7], row[8])
