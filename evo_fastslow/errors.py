"""User-facing input errors: they name the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A file or value given by the user is malformed. The CLI prints it without a traceback."""

    def __init__(self, source: str, field: str, expected: str):
        self.source, self.field, self.expected = source, field, expected
        super().__init__(f"{source}: {field}: {expected}")


def read_yaml(path: str | Path, what: str) -> Any:
    """A user's YAML file (config, suite, experiment): its data, or InputError naming the file."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(str(path), "file", f"an existing {what} (YAML)") from None
    except yaml.YAMLError as err:
        raise InputError(str(path), "YAML", f"valid YAML ({err})") from None
