"""User-facing input errors: they name the file, the field and what was expected."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A file or value given by the user is malformed. The CLI prints it without a traceback."""

    def __init__(self, source: str, field: str, expected: str):
        self.source, self.field, self.expected = source, field, expected
        super().__init__(f"{source}: {field}: {expected}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        """Rebuilt from its three parts: raised in a worker process, it must travel back intact (the
        default pickling passes only the message, its unpickling fails, and a process pool breaks)."""
        return type(self), (self.source, self.field, self.expected)


class ConfigWarning(UserWarning):
    """A config that works but may not do what its author means (the CLI prints it as one line)."""


def read_yaml(path: str | Path, what: str, where: tuple[str, str] | None = None) -> Any:
    """A user's YAML file (config, suite, experiment): its data, or InputError naming the file (or the
    config field that named it)."""
    import yaml

    text = read_text(path, f"{'an' if what[0] in 'aeiou' else 'a'} {what} (YAML)", where)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(str(path), "YAML", f"valid YAML ({err})") from None


def _named(path: str | Path, where: tuple[str, str] | None) -> tuple[str, str]:
    """(source, field) of an error about a path: the config and field that named it, or the path itself."""
    return where if where is not None else (str(path) or '""', "path")


def input_file(path: str | Path, what: str, where: tuple[str, str] | None = None) -> Path:
    """A file the user named, to be read: InputError naming it (or `where`: the config file and field that
    named it) when the path is empty, a directory, missing or not a regular file."""
    text = str(path)
    source, field = _named(text, where)
    shown = f" ({text})" if where is not None and where[0] != text else ""
    if not text.strip():
        raise InputError(source, field, f"{what}, not an empty path")
    found = Path(text)
    try:
        found.stat()
    except OSError as err:
        if err.errno not in (errno.ENOENT, errno.ENOTDIR):  # a name too long, a loop, no permission
            raise InputError(source, field, f"{what} that can be read{shown or ''} ({err.strerror})") from None
    if found.is_dir():
        raise InputError(source, field, f"{what}, not a directory{shown}")
    if not found.exists():
        raise InputError(source, field, f"{what} that exists{shown or ' (no such file)'}")
    if not found.is_file():
        raise InputError(source, field, f"{what}, a regular file{shown}")
    return found


def output_file(path: str | Path, what: str, where: tuple[str, str] | None = None) -> Path:
    """A file to be written: not empty, not a directory, its folder not a file (the folder is made)."""
    found = output_dir(path, f"{what} to write", where, must_be_new_or_dir=False)
    if found.is_dir():
        raise InputError(*_named(str(path), where), f"{what} to write, not a directory")
    found.parent.mkdir(parents=True, exist_ok=True)
    return found


def output_dir(path: str | Path, what: str, where: tuple[str, str] | None = None,
               must_be_new_or_dir: bool = True) -> Path:
    """A directory to be written into: not empty, not an existing file (unless `must_be_new_or_dir` is
    off: a file to overwrite), nor inside a file."""
    text = str(path)
    source, field = _named(text, where)
    if not text.strip():
        raise InputError(source, field, f"{what}, not an empty path")
    found = Path(text)
    for candidate in (found, *found.parents) if must_be_new_or_dir else found.parents:
        if candidate.exists() and not candidate.is_dir():
            raise InputError(source, field, f"{what}, not a file" if candidate == found else
                             f"{what}, but {candidate} is a file")
    return found


def read_text(path: str | Path, what: str, where: tuple[str, str] | None = None) -> str:
    """The text of a file the user named (input_file's checks), or InputError when it is not text."""
    found = input_file(path, what, where)
    source, field = where or (str(found), "file")
    try:
        return found.read_text()
    except UnicodeDecodeError:
        raise InputError(source, field, f"{what} as UTF-8 text ({found} is not)") from None
    except OSError as err:
        raise InputError(source, field, f"{what} that can be read ({found}: {err.strerror})") from None


def run_directory(path: str | Path, field: str = "run directory") -> Path:
    """A run directory the user named: InputError when it is empty, missing, a file or holds no run."""
    text = str(path)
    expected = "a run directory made by `evo-fastslow evolve`"
    if not text.strip():
        raise InputError('""', field, f"{expected}, not an empty path")
    found = Path(text)
    if not found.exists():
        raise InputError(text, field, f"{expected} (no such directory)")
    if not found.is_dir():
        raise InputError(text, field, f"{expected}, not a file")
    if not (found / "archive.sqlite").is_file():
        raise InputError(text, "archive.sqlite", f"{expected} (it holds no archive.sqlite)")
    return found
