"""Errors raised when benchmark files or options are unusable.

Every message names where the problem is (file, line, field) so that a person can
fix the file without reading code; the command line prints it and exits with 2.
"""

from __future__ import annotations

from pathlib import Path


class BenchmarkError(ValueError):
    """A benchmark input (data folder, instance name, option) cannot be used."""


class BenchmarkFileError(BenchmarkError):
    """A benchmark file is malformed.

    Parameters
    ----------
    file
        The file that was read.
    line
        The 1-based line of the problem, or ``None`` when it concerns the whole file.
    field
        The name of the offending field or section, as the file format names it.
    message
        What is wrong with it.
    """

    def __init__(self, file: str | Path, line: int | None, field: str, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {field}: {message}")
