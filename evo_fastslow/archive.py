"""The archive: an SQLite record of a run, every genome it made and every evaluation, committed as it arrives.

WAL mode, one writer (the run's driver). Genome ids are `generation * population + index`, so a
resumed run writes the same ids as an uninterrupted one.

The schema has a version (SQLite's `user_version`): an archive of an older version is migrated in
place when opened, one of a newer version is refused, a file that is not an archive is named as such.
Version 1 had no numeric fingerprints (evaluations read as fingerprint ''), version 2 no start and end
times (read as 0: unknown), version 3 no replicates (validation and ablation lifetimes, added empty),
version 4 no weights table (inheritance: every genome started from fresh weights, added empty),
version 5 no trials and no estimates (one lifetime per genome: replicates 1, rung 0, no interval),
version 6 no re-tests (the winner named as the search left it; added empty).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from evo_fastslow.errors import InputError
from evo_fastslow.records import (Evaluation, GenomeRecord, Trial, _evaluation, _genome, _Guarded, _json, _real,
                                  _text)

VERSION = 7
DETERMINED = ("status", "reason", "fitness", "scores", "metrics", "final_weights")  # of a trial: no timings
TABLES = {"run", "genomes", "evaluations", "generations"}
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
    wall_seconds REAL NOT NULL, worker TEXT NOT NULL, recorded_at REAL NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '', started_at REAL NOT NULL DEFAULT 0, finished_at REAL NOT NULL DEFAULT 0,
    replicates INTEGER NOT NULL DEFAULT 1, ci_low REAL, ci_high REAL, rung INTEGER NOT NULL DEFAULT 0,
    decision TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS trials (
    subject TEXT NOT NULL, rung INTEGER NOT NULL, replicate INTEGER NOT NULL,
    genes TEXT NOT NULL, weights TEXT NOT NULL, env_steps INTEGER NOT NULL, outcome TEXT NOT NULL,
    issuer INTEGER NOT NULL,
    PRIMARY KEY (subject, rung, replicate)
);
CREATE TABLE IF NOT EXISTS fingerprints (
    digest TEXT PRIMARY KEY, details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS replicates (
    genes TEXT NOT NULL, study TEXT NOT NULL, replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL, task_seed INTEGER NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (genes, study, replicate)
);
CREATE TABLE IF NOT EXISTS weights (
    genome_id INTEGER PRIMARY KEY REFERENCES genomes(id),
    initial TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '', final TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS replicate_baselines (
    suite TEXT NOT NULL, task_seed INTEGER NOT NULL, figures TEXT NOT NULL,
    PRIMARY KEY (suite, task_seed)
);
CREATE TABLE IF NOT EXISTS retests (
    generations INTEGER NOT NULL, genome_id INTEGER NOT NULL REFERENCES genomes(id), rank INTEGER NOT NULL,
    evaluation TEXT NOT NULL,
    PRIMARY KEY (generations, genome_id)
);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY, best_fitness REAL NOT NULL, mean_fitness REAL NOT NULL,
    best_genome_id INTEGER NOT NULL, evaluations INTEGER NOT NULL, failures INTEGER NOT NULL,
    wall_seconds REAL NOT NULL
);
"""


class Archive:
    def __init__(self, path: str | Path, *, create: bool = True, skip_damaged: bool = False):
        """Open (and migrate) the archive at `path`; with create=False it must exist already. A row whose
        bytes, JSON or types are not what the schema says is an InputError naming the file, table and row;
        with `skip_damaged` (reading a finished run) it is left out and counted (`damaged`), and a warning
        says so when the archive closes."""
        self.path, self.skip_damaged = Path(path), skip_damaged
        self.damaged: dict[str, set[int]] = {}
        self._gene_names: set[str] | None = None  # the first genome's, read once
        if not create and not self.path.is_file():
            raise InputError(str(self.path), "file", "an archive written by `evo-fastslow evolve`")
        try:
            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.text_factory = _text  # damaged bytes: replaced, then caught where they break JSON
            self.db = _Guarded(connection, self.path)
            self._open()
        except sqlite3.DatabaseError as err:
            raise InputError(str(self.path), "file", f"an SQLite archive written by evo-fastslow ({err})") from None

    def _open(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > VERSION:
            self.db.close()
            raise InputError(str(self.path), "schema version",
                             f"at most {VERSION} (written by a newer evo-fastslow, version {version}: upgrade)")
        if self.db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            self.db.close()
            raise InputError(str(self.path), "file", "an intact SQLite archive (it is damaged)")
        if tables and not TABLES <= tables:
            self.db.close()
            raise InputError(str(self.path), "tables", f"an evo-fastslow archive ({', '.join(sorted(TABLES))}); "
                             f"found {', '.join(sorted(tables))}")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.db:
            if tables and version < 2:  # version 1: no fingerprints
                self.db.execute("ALTER TABLE evaluations ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''")
            if tables and version < 3:  # version 2: no start and end times
                self.db.execute("ALTER TABLE evaluations ADD COLUMN started_at REAL NOT NULL DEFAULT 0")
                self.db.execute("ALTER TABLE evaluations ADD COLUMN finished_at REAL NOT NULL DEFAULT 0")
            if tables and version < 6:  # version 5: one lifetime per genome
                for column in ("replicates INTEGER NOT NULL DEFAULT 1", "ci_low REAL", "ci_high REAL",
                               "rung INTEGER NOT NULL DEFAULT 0", "decision TEXT NOT NULL DEFAULT ''"):
                    self.db.execute(f"ALTER TABLE evaluations ADD COLUMN {column}")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {VERSION}")

    def close(self) -> None:
        self.db.close()
        if self.damaged:
            import warnings

            from evo_fastslow.errors import ConfigWarning

            parts = "; ".join(f"{table}: {len(keys)} (rows {', '.join(map(str, sorted(keys, key=str)[:8]))}"
                              f"{', ...' if len(keys) > 8 else ''})" for table, keys in sorted(self.damaged.items()))
            warnings.warn(f"{self.path}: damaged rows left out ({parts}); what is shown is the rest",
                          ConfigWarning, stacklevel=2)
            self.damaged = {}

    def _read(self, convert: Any, rows: Any, table: str) -> list[Any]:
        """Each row converted; a damaged one raises, or (skip_damaged) is left out and counted."""
        found = []
        for row in rows:
            try:
                found.append(convert(row))
            except InputError:
                if not self.skip_damaged:
                    raise
                self.damaged.setdefault(table, set()).add(row[0])
        return found

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- run metadata -------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO run VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def meta(self, key: str, default: Any = None, kind: type | None = None) -> Any:
        """A run metadata value (JSON); with `kind`, one of that type or an InputError naming it."""
        row = self.db.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
        try:
            if row and not isinstance(row[0], str):
                raise TypeError
            value = json.loads(row[0]) if row else default
        except (ValueError, TypeError):
            raise InputError(str(self.path), f"run.{key}", "JSON written by evo-fastslow (the archive is damaged)") from None
        if kind is not None and value is not None and not isinstance(value, kind):
            raise InputError(str(self.path), f"run.{key}", f"a JSON {'mapping' if kind is dict else kind.__name__}, "
                             f"not {type(value).__name__} (the archive is damaged)")
        return value

    def _genome(self, row: tuple) -> GenomeRecord:
        """A genome row, its genes named as the run's first genome's are (one run writes one gene set)."""
        record = _genome(row, self.path)
        if self._gene_names is None:
            first = self.db.execute("SELECT genes FROM genomes ORDER BY id LIMIT 1").fetchone()
            try:
                value = json.loads(first[0]) if first else {}
            except (ValueError, TypeError):
                value = {}
            self._gene_names = set(value) if isinstance(value, dict) else set()  # a damaged first row: no rule
        if self._gene_names and set(record.genes) != self._gene_names:
            missing = sorted(map(str, self._gene_names - set(record.genes)))[:3]
            raise InputError(str(self.path), f"genomes row {row[0]}", "the genes the run's genomes have"
                             + (f" (missing {', '.join(missing)})" if missing else "") + " (the archive is damaged)")
        return record

    def check(self) -> dict[str, int]:
        """Read every row as the schema says (InputError naming the table and row of the first damaged one,
        or with skip_damaged, counted in `damaged`): rows per table."""
        counts = {"genomes": len(self.genomes()), "evaluations": len(self.evaluations()), "trials": len(self.trials())}
        for (key,) in self.db.execute("SELECT key FROM run").fetchall():
            self.meta(key)
        return counts

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
                    raise InputError(str(self.path), f"genome {r.id}", "the genome this run makes now: it "
                                     "differs (the config or the searcher's code changed before resume)")

    def add_evaluation(self, e: Evaluation) -> None:
        """Committed at once: a crash after this loses nothing of it."""
        self.db.execute(
            "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.genome_id, e.status, e.reason, e.fitness, json.dumps(e.scores, sort_keys=True),
             json.dumps(e.metrics, sort_keys=True), json.dumps(e.curves), e.wall_seconds, e.worker, time.time(),
             e.fingerprint, e.started_at, e.finished_at, e.replicates, _real(e.ci_low), _real(e.ci_high), e.rung,
             e.decision))

    # --- trials: a genome's lifetimes on the shared replicate pool (evolution/policy/trials.py) -------------
    def add_trial(self, subject: str, rung: int, replicate: int, genes: dict[str, Any], weights: str,
                  env_steps: int, outcome: dict[str, Any], issuer: int) -> None:
        """`issuer`: the genome whose plan first asked for it (what its env-steps are charged to)."""
        self.db.execute("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (subject, rung, replicate, json.dumps(genes, sort_keys=True), weights, env_steps,
                         json.dumps(outcome, sort_keys=True), issuer))

    def spending_by_generation(self, population: int) -> dict[int, int]:
        """Env-steps of the trials first asked for by each generation's (or epoch's) genomes."""
        return dict(self.db.execute("SELECT issuer / ?, SUM(env_steps) FROM trials GROUP BY issuer / ?",
                                    (population, population)).fetchall())

    def trials(self) -> dict[Trial, dict[str, Any]]:
        """Every finished trial's outcome, by Trial(subject, rung, replicate)."""
        rows = self.db.execute("SELECT rowid, subject, rung, replicate, outcome FROM trials").fetchall()
        return dict(self._read(lambda row: (Trial(*row[1:4]), self._outcome(row)), rows, "trials"))

    def _outcome(self, row: tuple) -> dict[str, Any]:
        """A trial's outcome from a row (rowid, ..., outcome)."""
        outcome = _json(row[-1], "trials", row[0], self.path, dict, "outcome")
        if not isinstance(outcome.get("status"), str) or not isinstance(outcome.get("fitness"), (int, float)):
            raise InputError(str(self.path), f"trials row {row[0]}", "an outcome with a status and a fitness "
                             "(the archive is damaged)")
        return outcome

    def _outcomes(self) -> list[dict[str, Any]]:
        return self._read(self._outcome, self.db.execute("SELECT rowid, outcome FROM trials").fetchall(), "trials")

    def spending(self) -> dict[str, Any]:
        """Trials per rung, env-steps spent on them, and distinct genomes (subjects) evaluated."""
        rows = self.db.execute("SELECT rung, COUNT(*), SUM(env_steps), COUNT(DISTINCT subject) FROM trials "
                               "GROUP BY rung ORDER BY rung").fetchall()
        if not rows:
            return {}
        return {"trials": [r[1] for r in rows], "env_steps": sum(r[2] for r in rows),
                "genomes": self.db.execute("SELECT COUNT(DISTINCT subject) FROM trials").fetchone()[0]}

    def trial_rows(self) -> list[tuple]:
        """(subject, genes, weights, rung, replicate, env_steps, status, fitness) of every trial, in order."""
        rows = self.db.execute("SELECT rowid, subject, genes, weights, rung, replicate, env_steps, outcome FROM trials "
                               "ORDER BY subject, rung, replicate").fetchall()
        return self._read(lambda row: (row[1], _json(row[2], "trials", row[0], self.path, dict, "genes"), *row[3:7],
                                       self._outcome(row)["status"], self._outcome(row)["fitness"]), rows, "trials")

    def add_fingerprint(self, details: dict[str, Any]) -> None:
        self.db.execute("INSERT OR IGNORE INTO fingerprints VALUES (?, ?)",
                        (details["digest"], json.dumps(details, sort_keys=True)))

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """Every numeric fingerprint seen in this run, by digest."""
        return {row[0]: json.loads(row[1]) for row in self.db.execute("SELECT digest, details FROM fingerprints")}

    def lifetime_spans(self) -> list[tuple[str, float, float]]:
        """(worker, started, finished) of every timed lifetime: evaluations of one lifetime, and trials."""
        rows = self.db.execute("SELECT worker, started_at, finished_at FROM evaluations WHERE started_at > 0").fetchall()
        return rows + [(o.get("worker", ""), o.get("started_at", 0.0), o.get("finished_at", 0.0))
                       for o in self._outcomes() if o.get("started_at", 0.0) > 0]

    def utilisation(self) -> dict[str, float] | None:
        """Busy worker-time over (workers x the span from the first start to the last end), from the
        workers' clocks; None before any timed evaluation."""
        rows = self.lifetime_spans()
        if not rows:
            return None
        workers = {row[0] for row in rows}
        span = max(r[2] for r in rows) - min(r[1] for r in rows)
        busy = sum(r[2] - r[1] for r in rows)
        return {"workers": len(workers), "span_seconds": span, "busy_seconds": busy,
                "utilisation": busy / (len(workers) * span) if span > 0 else 1.0}

    def fingerprint_counts(self) -> dict[str, int]:
        """How many lifetimes each fingerprint digest computed: trials where the run has them, else
        evaluations ('' for archives of version 1)."""
        trials = Counter(o.get("fingerprint", "") for o in self._outcomes())
        if trials:
            return dict(trials)
        return dict(self.db.execute("SELECT fingerprint, COUNT(*) FROM evaluations GROUP BY fingerprint"))

    def evaluations(self, genome_ids: list[int] | None = None) -> dict[int, Evaluation]:
        """Evaluations by genome id: all, or those of `genome_ids` (a generation's, typically)."""
        if genome_ids is None:
            rows = self.db.execute("SELECT * FROM evaluations").fetchall()
        elif not genome_ids:
            return {}
        else:
            rows = self.db.execute(f"SELECT * FROM evaluations WHERE genome_id IN ({','.join('?' * len(genome_ids))})",
                                   genome_ids).fetchall()
        return {e.genome_id: e for e in self._read(lambda row: _evaluation(row, self.path), rows, "evaluations")}

    def genomes(self, generation: int | None = None) -> list[GenomeRecord]:
        query, args = "SELECT * FROM genomes", ()
        if generation is not None:
            query, args = query + " WHERE generation = ?", (generation,)
        return self._read(lambda row: self._genome(row), self.db.execute(query + " ORDER BY id", args), "genomes")

    def end_generation(self, generation: int, best: float, mean: float, best_id: int, evaluations: int,
                       failures: int, wall_seconds: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (generation, best, mean, best_id, evaluations, failures, wall_seconds))

    def generation_summaries(self) -> Iterator[tuple]:
        yield from self.db.execute("SELECT * FROM generations ORDER BY generation")

    def ranked(self, limit: int | None = None, through_generation: int | None = None, retested: bool = True
               ) -> list[tuple[GenomeRecord, Evaluation]]:
        """Evaluated genomes, best first: successes, then the highest budget rung, survivors of a race before
        those it stopped, then fitness (ties: earliest); evolution/policy/selection.py: level.

        With shared seeds (evolution/policy/selection.py), one row per subject (the same genes and initial
        weights): its latest successful evaluation, which rests on every replicate the earlier ones had and
        those it gained since (an elite gains one per survival); an earlier row would rank a one-draw
        fitness the run has since revised. With per-generation seeds each row is its own draw: all kept.
        `through_generation`: as the archive stood after that generation. A re-test made there (`retests`)
        puts the genomes it re-tested first, by their re-test means, unless `retested` is False."""
        within = "" if through_generation is None else f"WHERE g.generation <= {int(through_generation)} "
        rows = self.db.execute(
            "SELECT g.*, e.*, COALESCE(w.initial, '') FROM genomes g JOIN evaluations e ON e.genome_id = g.id "
            "LEFT JOIN weights w ON w.genome_id = g.id " + within +
            "ORDER BY e.status = 'ok' DESC, 2 * e.rung + (e.decision NOT LIKE 'raced out%') DESC, e.fitness DESC, "
            "g.id ASC").fetchall()
        evaluation = (self.meta("config", kind=dict) or {}).get("evaluation") or {"seeds": "per-generation"}
        if not isinstance(evaluation, dict):
            raise InputError(str(self.path), "run.config", "its evaluation section as a mapping (the archive is damaged)")
        if evaluation.get("seeds", "shared") == "shared":  # row[3]: genes (sorted keys), row[-1]: weights' hash
            latest = {(row[3], row[-1]): row[0] for row in sorted(rows, key=lambda r: r[0]) if row[7] == "ok"}
            rows = [row for row in rows if row[7] != "ok" or latest[(row[3], row[-1])] == row[0]]
        pairs = self._read(lambda row: (self._genome(row[:6]), _evaluation(row[6:-1], self.path)), rows,
                           "genomes or evaluations")
        retested = self.retests(through_generation) if retested else {}
        if retested:  # the re-tested genomes first, by their means on the same replicates (the named winner)
            first = sorted(((r, retested[r.id]) for r, _ in pairs if r.id in retested and retested[r.id].status == "ok"),
                           key=lambda pair: (-pair[1].fitness, pair[0].id))
            rest = [(r, retested.get(r.id, e)) for r, e in pairs if r.id not in retested or retested[r.id].status != "ok"]
            pairs = first + sorted(rest, key=lambda pair: pair[1].status != "ok")  # a failed re-test: with failures
        return pairs[:limit]

    # --- re-tests: the top few genomes on the same replicates before a winner is named (evolution/drivers/retest.py)
    def add_retest(self, generations: int, rank: int, evaluation: Evaluation) -> None:
        """The re-test made when the run had `generations` generations; `rank`: its place before the re-test."""
        self.db.execute("INSERT OR REPLACE INTO retests VALUES (?, ?, ?, ?)",
                        (generations, evaluation.genome_id, rank, json.dumps(dataclasses.asdict(evaluation))))

    def retests(self, through_generation: int | None = None) -> dict[int, Evaluation]:
        """The re-test evaluations by genome id, of the re-test made after the archive's last generation
        (or after `through_generation`): none if the run went on after it."""
        last = self.db.execute("SELECT MAX(generation) FROM genomes").fetchone()[0]
        generations = (last if through_generation is None else min(last, int(through_generation))) + 1 \
            if last is not None else 0
        rows = self.db.execute("SELECT genome_id, evaluation FROM retests WHERE generations = ? ORDER BY rank",
                               (generations,)).fetchall()
        return dict(self._read(lambda row: (row[0], _retest(row[1], self.path)), rows, "retests"))

    # --- replicates: a genome re-run on fresh seeds (analysis/replicates.py) ------------------------
    def add_replicate(self, genes: dict[str, Any], study: str, replicate: int, seed: int, task_seed: int,
                      outcome: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO replicates VALUES (?, ?, ?, ?, ?, ?)",
                        (json.dumps(genes, sort_keys=True), study, replicate, seed, task_seed,
                         json.dumps(outcome, sort_keys=True)))

    def replicate(self, genes: dict[str, Any], study: str, replicate: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT outcome FROM replicates WHERE genes = ? AND study = ? AND replicate = ?",
                              (json.dumps(genes, sort_keys=True), study, replicate)).fetchone()
        return None if row is None else _json(row[0], "replicates", replicate, self.path)

    def replicates(self) -> list[tuple[dict[str, Any], str, int, dict[str, Any]]]:
        """Every replicate lifetime stored: (genes, study key, replicate, outcome)."""
        return [(_json(g, "replicates", r, self.path), s, r, _json(o, "replicates", r, self.path))
                for g, s, r, o in self.db.execute("SELECT genes, study, replicate, outcome FROM replicates "
                                                  "ORDER BY genes, study, replicate")]

    def set_replicate_baselines(self, suite: str, task_seed: int, figures: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO replicate_baselines VALUES (?, ?, ?)",
                        (suite, task_seed, json.dumps(figures, sort_keys=True)))

    def replicate_baselines(self, suite: str, task_seed: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT figures FROM replicate_baselines WHERE suite = ? AND task_seed = ?",
                              (suite, task_seed)).fetchone()
        return None if row is None else _json(row[0], "replicate_baselines", task_seed, self.path)

    # --- weights (evolution/inheritance.py): hashes of content-addressed files in the run's weights/ --
    def set_initial_weights(self, genome_id: int, initial: str, note: str) -> None:
        """Where genome's lifetime starts: a weights hash ('' = fresh from its seed) and why."""
        self.db.execute("INSERT INTO weights (genome_id, initial, note) VALUES (?, ?, ?) ON CONFLICT (genome_id) "
                        "DO UPDATE SET initial = excluded.initial, note = excluded.note", (genome_id, initial, note))

    def set_final_weights(self, genome_id: int, final: str) -> None:
        self.db.execute("INSERT INTO weights (genome_id, final) VALUES (?, ?) ON CONFLICT (genome_id) "
                        "DO UPDATE SET final = excluded.final", (genome_id, final))

    def weights(self, genome_id: int) -> tuple[str, str, str] | None:
        """(initial hash, note, final hash) of a genome, None when its run inherits nothing."""
        row = self.db.execute("SELECT initial, note, final FROM weights WHERE genome_id = ?", (genome_id,)).fetchone()
        return None if row is None else tuple(row)

    def genome(self, genome_id: int) -> GenomeRecord | None:
        row = self.db.execute("SELECT * FROM genomes WHERE id = ?", (genome_id,)).fetchone()
        return None if row is None else self._genome(row)

    def snapshot(self) -> list[tuple]:
        """What two runs must agree on: every genome, its evaluation's outcome (no timings, no workers), the
        hashes of the weights it started from and ended with, and its estimate's evidence."""
        rows = self.db.execute(
            "SELECT g.id, g.generation, g.idx, g.genes, g.origin, g.parents, e.status, e.reason, e.fitness, "
            "e.scores, e.metrics, w.initial, w.note, w.final, e.replicates, e.ci_low, e.ci_high, e.rung, e.decision "
            "FROM genomes g LEFT JOIN evaluations e ON e.genome_id = g.id LEFT JOIN weights w ON w.genome_id = g.id "
            "ORDER BY g.id").fetchall()
        retests = [("re-test", n, g, k, *(json.dumps(json.loads(e).get(f), sort_keys=True)
                                          for f in ("status", "reason", "fitness", "scores", "replicates", "ci_low",
                                                    "ci_high", "rung", "decision")))
                   for n, g, k, e in self.db.execute("SELECT generations, genome_id, rank, evaluation FROM retests "
                                                     "ORDER BY generations, rank")]
        return rows + retests

    def trial_snapshot(self) -> list[tuple]:
        """Every trial and what it computed (no timings, no workers): what two runs must agree on, too."""
        return [(s, g, w, k, r, n, *(json.dumps(json.loads(o).get(f), sort_keys=True) for f in DETERMINED))
                for s, g, w, k, r, n, o in self.db.execute(
                    "SELECT subject, genes, weights, rung, replicate, env_steps, outcome FROM trials "
                    "ORDER BY subject, rung, replicate")]


def _retest(text: str, path: Path) -> Evaluation:
    try:
        return Evaluation(**json.loads(text))
    except (ValueError, TypeError):
        raise InputError(str(path), "retests", "a re-test's evaluation as a JSON object of its fields (the archive "
                         "is damaged)") from None
