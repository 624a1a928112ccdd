"""Network weights as content-addressed safetensors: what baldwinian and lamarckian runs pass between
generations, named by the SHA-256 of their bytes.

safetensors holds raw tensors and a JSON header, nothing executable, so loading a file a user shared
cannot run code (no pickle anywhere). A weights blob holds every suite's agent: tensor names are
`<suite>/<parameter>`. A run keeps its blobs in `<run>/weights/<hash>.safetensors`; jobs carry the
bytes with their hash and the worker checks it, so workers need no shared filesystem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from evo_fastslow.errors import InputError

Tensors = dict[str, np.ndarray]
SUFFIX = ".safetensors"


def to_bytes(tensors: Tensors) -> bytes:
    """Serialise (float32, C order); the same tensors give the same bytes, hence the same hash."""
    from safetensors.numpy import save

    return save({name: np.ascontiguousarray(tensors[name], dtype=np.float32) for name in sorted(tensors)})


def from_bytes(data: bytes, source: str) -> Tensors:
    """The tensors of a safetensors blob; InputError naming `source` for anything else (a pickle, say)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        return load(data)
    except (SafetensorError, ValueError, TypeError) as err:
        raise InputError(source, "weights", "a safetensors file of network weights (it is not one: "
                         f"{str(err)[:80]}); pickled weights are never loaded") from None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def suite_tensors(tensors: Tensors, suite: str) -> Tensors:
    """One suite's agent: its parameters under their own names."""
    prefix = suite + "/"
    return {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}


def shapes(tensors: Tensors) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in tensors.items()}


class WeightStore:
    """A folder of blobs named by their hash: written once (atomically), checked on every read."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def put(self, data: bytes) -> str:
        key = digest(data)
        path = self.path(key)
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return key

    def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(str(path), "file", f"the weights the archive names by hash {key[:12]}… "
                             "(the run directory's weights/ folder is incomplete)") from None
        if digest(data) != key:
            raise InputError(str(path), "content", "bytes whose SHA-256 is the file's name (it was altered)")
        return data

    def load(self, key: str) -> Tensors:
        return from_bytes(self.get(key), str(self.path(key)))


# --- weights beside a genome file (inspect --export; lifetime --genome; seed_population) ----------
PROVENANCE_KEY = "initial_weights"  # genome provenance: {"initial_weights": {"file": ..., "sha256": ...}}


def export_beside(genome_file: Path, blob: bytes) -> dict[str, str]:
    """Copy a blob next to a genome file (folder `<stem>.weights/`); the provenance entry naming it."""
    folder = genome_file.parent / f"{genome_file.stem}.weights"
    key = WeightStore(folder).put(blob)
    return {"file": f"{folder.name}/{key}{SUFFIX}", "sha256": key}


def genome_file_weights(provenance: dict, genome_file: str, name: str) -> bytes | None:
    """The initial weights a genome file's genome names in its provenance (checked), or None."""
    entry = provenance.get(PROVENANCE_KEY)
    if entry is None:
        return None
    where = f"genome {name!r}, provenance.{PROVENANCE_KEY}"
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not isinstance(entry.get("sha256"), str):
        raise InputError(genome_file, where, "{file: path beside the genome file, sha256: its hash}")
    path = Path(genome_file).parent / entry["file"]
    try:
        data = path.read_bytes()
    except OSError:
        raise InputError(genome_file, where, f"an existing weights file ({path} is missing)") from None
    if digest(data) != entry["sha256"]:
        raise InputError(str(path), "content", f"bytes whose SHA-256 is {entry['sha256'][:12]}… (the file changed)")
    from_bytes(data, str(path))  # a safetensors file, never a pickle
    return data
