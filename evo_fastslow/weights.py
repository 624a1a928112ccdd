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
