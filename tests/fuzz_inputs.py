"""Malformed inputs of four families, made by mutating the shipped files, and how the project takes them:
run configs (read and planned), genome files (loaded), suites (loaded, their task built), run directories
(checked and inspected). Each case ends `clear` (an InputError: one line naming the file and field),
`accepted` (a valid input), `traceback` (any other exception: a bug) or `runaway` (past its time guard).
Shared by tests/test_fuzz_inputs.py (a few hundred cases in CI) and benchmarks/fuzz_inputs.py (thousands)."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import signal
import sqlite3
import traceback
from pathlib import Path
from typing import Any, Callable

import yaml

from evo_fastslow.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
ODD_VALUES: list[Any] = [None, True, -1, 0, 10**30, -(10**30), 1.5, float("nan"), float("inf"), "", "x" * 300,
                         "1e30", [], [1, "a"], {}, {"a": {"b": None}}, "../../etc/passwd", "mypkg.nowhere:Thing"]


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a YAML/JSON tree (keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, prefix + (i,))
    return found


def mutate(data: Any, rng: random.Random, edits: int = 2) -> Any:
    """`edits` random edits of a deep copy: a value replaced by an odd one, a key deleted or added, a list
    emptied, a number made huge or negative; or the whole document replaced."""
    data = json.loads(json.dumps(data, default=str))
    if rng.random() < 0.05:
        return rng.choice(ODD_VALUES)
    for _ in range(edits):
        paths = _paths(data)
        if not paths:
            return data
        path = rng.choice(paths)
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        leaf, action = path[-1], rng.random()
        value = parent[leaf]
        if action < 0.15 and isinstance(parent, dict):
            del parent[leaf]
        elif action < 0.25 and isinstance(parent, dict):
            parent[rng.choice(["colour", "extra", "1", ""])] = rng.choice(ODD_VALUES)
        elif action < 0.5 and isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[leaf] = rng.choice([value * 10**rng.randint(3, 30), -value, 0, value + 0.5])
        else:
            parent[leaf] = rng.choice(ODD_VALUES)
    return data


class Runaway(Exception):
    pass


def classify(target: Callable[[], Any], seconds: int = 20) -> tuple[str, str]:
    """Run `target` under a time guard: (outcome, detail)."""
    def alarm(*_: Any) -> None:
        raise Runaway()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            target()
        return "accepted", ""
    except InputError as err:
        return "clear", str(err)
    except Runaway:
        return "runaway", ""
    except Exception:  # noqa: BLE001 - any other exception is what the fuzzing looks for
        return "traceback", traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def config_case(rng: random.Random, folder: Path) -> Callable[[], Any]:
    from evo_fastslow.evolution.config import load_config
    from evo_fastslow.evolution.plan import plan

    source = rng.choice(sorted((ROOT / "configs").glob("*.yaml")))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(mutate(yaml.safe_load(source.read_text()), rng), allow_unicode=True))

    def target() -> None:
        config = load_config(path)
        plan(config, measure=False)
    return target


def genome_case(rng: random.Random, folder: Path) -> Callable[[], Any]:
    from evo_fastslow.genome import load_genomes

    source = rng.choice(sorted((ROOT / "populations").glob("*.json")))
    path = folder / "genomes.json"
    path.write_text(json.dumps(mutate(json.loads(source.read_text()), rng), default=str))
    return lambda: load_genomes(path)


def suite_case(rng: random.Random, folder: Path) -> Callable[[], Any]:
    from evo_fastslow.suite import load_suite

    source = rng.choice(sorted((ROOT / "fitness").glob("*.yaml")))
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(mutate(yaml.safe_load(source.read_text()), rng), allow_unicode=True))
    return lambda: load_suite(path).build_task()


def run_dir_case(rng: random.Random, folder: Path, finished: Path) -> Callable[[], Any]:
    """A finished run directory damaged in one of several ways, then checked and inspected."""
    from evo_fastslow.cli import main

    run = folder / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished, run)
    damage = rng.randrange(6)
    if damage == 0:  # the resolved config mutated
        (run / "config.yaml").write_text(yaml.safe_dump(mutate(yaml.safe_load((run / "config.yaml").read_text()),
                                                               rng)))
    elif damage == 1:  # the checkpoint mutated
        (run / "checkpoint.json").write_text(json.dumps(mutate(json.loads((run / "checkpoint.json").read_text()),
                                                               rng), default=str))
    elif damage == 2:  # bytes of the archive file overwritten, or the file cut short
        data = bytearray((run / "archive.sqlite").read_bytes())
        if rng.random() < 0.5:
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 16)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        (run / "archive.sqlite").write_bytes(bytes(data))
    else:  # a row's JSON column replaced by an odd value or junk bytes
        table, column = rng.choice([("genomes", "genes"), ("genomes", "parents"), ("evaluations", "metrics"),
                                    ("evaluations", "scores"), ("trials", "outcome"), ("run", "value")])
        value = rng.choice([json.dumps(rng.choice(ODD_VALUES), default=str), "{\"a\": ", b"\xff\xfe{"])
        with sqlite3.connect(run / "archive.sqlite") as db:
            db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT MIN(rowid) FROM {table})", (value,))

    def target() -> None:
        codes = [main(command) for command in (["check", str(run)], ["inspect", str(run)])]
        if any(code not in (0, 2) for code in codes):
            raise AssertionError(f"check, inspect exited {codes}")
        if 2 in codes:  # one clear line was printed (main turned an InputError into exit 2)
            raise InputError(str(run), "run directory", "what check and inspect said")
    return target


FAMILIES = {"config": config_case, "genome file": genome_case, "suite": suite_case}
