"""A run directory's files: its resolved config, its checkpoint, and how a run made by an older
version is read. (The archive itself is evo_fastslow/archive.py.)

Resume without pickles: a run directory holds its resolved config, its archive and a checkpoint (the last
finished generation and a digest of it); `resume` rebuilds the searcher by replaying the finished
generations with the fitnesses the archive holds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from evo_fastslow.archive import Archive, GenomeRecord
from evo_fastslow.errors import InputError
from evo_fastslow.evolution.config import RunConfig, load_plugin_cores, validate_config
from evo_fastslow.evolution.policy.selection import LEGACY
from evo_fastslow.evolution.searchers.registry import fields_it_takes, with_defaults
from evo_fastslow.evolution.tracking import Tracker

CONFIG_FILE, ARCHIVE_FILE, CHECKPOINT_FILE = "config.yaml", "archive.sqlite", "checkpoint.json"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def digest(records: list[GenomeRecord], fitnesses: list[float]) -> str:
    payload = [(r.id, r.genes, r.origin, r.parents, f) for r, f in zip(records, fitnesses)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A resolved config as an older version wrote it, read as this one would have written it: without
    `evaluation:`, one lifetime per genome; a flat `searcher:` bag, only the named searcher's fields; a
    searcher field added since (its default is what the older version did) at its default."""
    data.setdefault("evaluation", LEGACY)
    if "searcher" in data:
        data["searcher"] = with_defaults(fields_it_takes(data["searcher"]))
    return data


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise InputError(str(run_dir), CONFIG_FILE, "a run directory made by `evo-fastslow evolve`")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(str(path), "YAML", f"the run's resolved config, valid YAML ({type(err).__name__})") from None
    if isinstance(data, dict):
        upgrade(data)
        load_plugin_cores(data, str(path))
    return validate_config(data, str(path))


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two config dumps differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [path for key in sorted(set(old) | set(new), key=str)
                for path in changed_fields(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def value_at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def read_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The last finished generation and its digest, or None before the first one finished."""
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        checkpoint = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(str(path), "JSON", "a checkpoint written by evo-fastslow (delete it to replay "
                         "from the archive's first generation)") from None
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("generation"), int)
            and checkpoint["generation"] >= 0 and isinstance(checkpoint.get("digest"), str)):
        raise InputError(str(path), "generation, digest", "a non-negative integer and a digest string")
    return checkpoint


def tracker_for(run_dir: Path) -> Tracker | None:
    """The tracker of a finished run (for `validate`), or None if its config names none."""
    config = read_run_config(run_dir)
    if config.tracking is None or (config.tracking.tensorboard is None and config.tracking.mlflow is None):
        return None
    return Tracker(config.tracking, run_dir, config.name, str(run_dir / "config.yaml"))


def check_run_dir(run_dir: Path) -> list[tuple[str, bool, str]]:
    """The state of a run directory, changing nothing: (part, fine, what) for its config, archive,
    checkpoint and weights."""
    found: list[tuple[str, bool, str]] = []

    def part(name: str, probe: Any) -> Any:
        try:
            value, text = probe()
            found.append((name, True, text))
            return value
        except InputError as err:
            found.append((name, False, str(err)))
            return None

    part(CONFIG_FILE, lambda: (None, f"{read_run_config(run_dir).name}: a valid run config"))

    def archive() -> tuple[Any, str]:
        if not (run_dir / ARCHIVE_FILE).is_file():
            raise InputError(str(run_dir / ARCHIVE_FILE), "file", "an archive (none: the run never started)")
        with Archive(run_dir / ARCHIVE_FILE, create=False, skip_damaged=True) as opened:
            counts, damaged = opened.check(), dict(opened.damaged)
            opened.damaged = {}
            hashes = {row[0] for row in opened.db.execute(
                "SELECT initial FROM weights UNION SELECT final FROM weights") if row[0]}
        if damaged:
            raise InputError(str(run_dir / ARCHIVE_FILE), ", ".join(sorted(damaged)), "intact rows; damaged: " +
                             "; ".join(f"{t} rows {sorted(k, key=str)[:8]}" for t, k in sorted(damaged.items())))
        return hashes, ", ".join(f"{n} {t}" for t, n in counts.items()) + ", every row intact"
    hashes = part(ARCHIVE_FILE, archive)
    part(CHECKPOINT_FILE, lambda: (None, _checkpoint_text(read_checkpoint(run_dir))))

    def weights() -> tuple[None, str]:
        from evo_fastslow.evolution.inheritance import WEIGHTS_FOLDER

        folder = run_dir / WEIGHTS_FOLDER
        missing = sorted(h for h in hashes or () if not any(folder.glob(f"{h}*")))
        if missing:
            raise InputError(str(folder), "files", f"the weights the archive names; missing {len(missing)}: "
                             f"{', '.join(missing[:4])}")
        return None, f"{len(hashes or ())} weight files the archive names, all present"
    part("weights", weights)
    return found


def _checkpoint_text(checkpoint: dict[str, Any] | None) -> str:
    return "none yet (no generation finished)" if checkpoint is None else \
        f"generation {checkpoint['generation'] + 1} finished"


def recorded_config(archive: Archive) -> dict[str, Any]:
    """The resolved config an archive keeps (meta `config`), for reading a finished run: the sections readers
    use checked for their shape (a full validation would import the run's plug-ins), a damaged one an
    InputError naming the archive; {} for an archive without one."""
    data = archive.meta("config", kind=dict) or {}
    shapes = {"search_space": dict, "budget": dict, "evaluation": dict, "embedded_suites": list}
    bad = [k for k, kind in shapes.items() if k in data and data[k] is not None and not isinstance(data[k], kind)]
    space = data.get("search_space") or {}
    if not bad and isinstance(space, dict):
        bad += [f"search_space.{k}" for k, kind in (("search", list), ("fixed", dict))
                if space.get(k) is not None and not isinstance(space[k], kind)]
    suites = data.get("embedded_suites") or []
    if not bad and not all(isinstance(s, dict) and isinstance(s.get("lifetime"), dict)
                           and isinstance(s["lifetime"].get("train_env_steps"), int) for s in suites):
        bad.append("embedded_suites")
    budget = data.get("budget") or {}
    if not bad and not isinstance(budget.get("train_env_steps") or 0, int):
        bad.append("budget.train_env_steps")
    if bad:
        raise InputError(str(archive.path), f"run.config: {bad[0]}", "the run's config as evo-fastslow wrote it "
                         "(the archive is damaged)")
    return data
