"""The archive's records: a genome, its evaluation, a trial (dataclasses), and reading a row as one safely
(the guarded connection; conversions that check each row against the schema and name the file, table and
row of a damaged one)."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evo_fastslow.errors import InputError


@dataclass(frozen=True)
class Trial:
    """One lifetime of a genome: `subject` names its genes and initial weights (evolution/policy/trials.py),
    trained for the budget fraction of `rung`, on the seeds of `replicate` (the same for every genome)."""
    subject: str
    rung: int
    replicate: int


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
    fingerprint: str = ""  # digest of the worker's numeric fingerprint (lifetime/fingerprint.py)
    started_at: float = 0.0   # the worker's clock (Unix seconds) when the evaluation started, 0 if unknown
    finished_at: float = 0.0  # ... and when it ended: utilisation, not results
    replicates: int = 1       # lifetimes the fitness is the mean of (evolution/policy/selection.py)
    ci_low: float = math.nan  # 95% t interval of that mean (NaN for one replicate)
    ci_high: float = math.nan
    rung: int = 0             # the budget rung it reached (the last one is the full lifetime)
    decision: str = ""        # why its evaluation stopped there: promoted, raced out, max replicates, ...


class _Guarded:
    """The archive's SQLite connection, whose failures at any statement (a damaged page, a name that is not
    UTF-8) are one InputError naming the file; a statement's rows are read at once."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.connection, self.path = connection, path

    def execute(self, sql: str, args: Any = ()) -> "_Rows":
        try:
            cursor = self.connection.execute(sql, args)
            return _Rows(cursor.fetchall(), cursor.description)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            if isinstance(err, sqlite3.IntegrityError):
                raise
            raise InputError(str(self.path), "file", f"an SQLite archive written by evo-fastslow, intact ({err})") from None

    def executescript(self, sql: str) -> None:
        self.execute_guarded(self.connection.executescript, sql)

    def execute_guarded(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            raise InputError(str(self.path), "file", f"an SQLite archive written by evo-fastslow, intact ({err})") from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "_Guarded":
        self.connection.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self.connection.__exit__(*exc)


class _Rows(list):
    """A statement's rows, read as a cursor would be."""

    def __init__(self, rows: list, description: Any = None):
        super().__init__(rows)
        self.description = description

    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list:
        return list(self)


def _genome(row: tuple, path: Path) -> GenomeRecord:
    genes = _json(row[3], "genomes", row[0], path, dict, "genes")
    parents = _json(row[5], "genomes", row[0], path, list, "parents")
    _typed(row, {1: int, 2: int, 4: str}, "genomes", path, ("generation", "idx", "origin"))
    if not all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in genes.items()) \
            or not all(isinstance(p, int) for p in parents):
        raise InputError(str(path), f"genomes row {row[0]}", "genes as a mapping of names, parents as genome ids "
                         "(the archive is damaged)")
    return GenomeRecord(row[0], row[1], row[2], genes, row[4], parents)


def _evaluation(row: tuple, path: Path) -> Evaluation:
    scores, metrics, curves = (_json(row[i], "evaluations", row[0], path, dict, name)
                               for i, name in ((4, "scores"), (5, "metrics"), (6, "curves")))
    _typed(row, {1: str, 2: str, 3: (int, float), 7: (int, float)}, "evaluations", path,
           ("status", "reason", "fitness", "wall_seconds"))
    extra = {} if len(row) <= 13 else {"replicates": row[13], "ci_low": _nan(row[14]), "ci_high": _nan(row[15]),
                                       "rung": row[16], "decision": row[17]}
    return Evaluation(row[0], row[1], row[2], row[3], scores, metrics, curves, row[7], row[8], row[10], row[11],
                      row[12], **extra)


def _real(value: float) -> float | None:
    return None if math.isnan(value) else value


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _json(text: str, table: str, key: int, path: Path, kind: type | None = None, what: str = "") -> Any:
    try:
        if not isinstance(text, str):  # a BLOB where the schema has JSON text
            raise TypeError
        value = json.loads(text)
    except (ValueError, TypeError):  # JSONDecodeError is a ValueError
        raise InputError(str(path), f"{table} row {key}", "JSON written by evo-fastslow (the archive is damaged)") from None
    if kind is not None and not isinstance(value, kind):
        raise InputError(str(path), f"{table} row {key}", f"{what} as a JSON {'mapping' if kind is dict else 'list'}, "
                         f"not {type(value).__name__} (the archive is damaged)")
    return value


def _typed(row: tuple, kinds: dict[int, Any], table: str, path: Path, names: tuple[str, ...]) -> None:
    for (column, kind), name in zip(kinds.items(), names):
        if not isinstance(row[column], kind) or isinstance(row[column], bool):
            raise InputError(str(path), f"{table} row {row[0]}", f"{name} as {getattr(kind, '__name__', 'a number')}, "
                             f"not {row[column]!r} (the archive is damaged)")


def _text(data: bytes) -> str:
    """SQLite text as str; bytes that are not UTF-8 (a disk error, a cut copy) replaced, never raised."""
    return data.decode("utf-8", errors="replace")
