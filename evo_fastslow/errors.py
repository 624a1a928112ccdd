"""User-facing input errors: they name the file, the field and what was expected."""

from __future__ import annotations


class InputError(ValueError):
    """A file or value given by the user is malformed. The CLI prints it without a traceback."""

    def __init__(self, source: str, field: str, expected: str):
        self.source, self.field, self.expected = source, field, expected
        super().__init__(f"{source}: {field}: {expected}")
