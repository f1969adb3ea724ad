"""The tool's exceptions. Each carries its exit code; the CLI turns them into one-line
messages in one place (cli.main)."""
from __future__ import annotations

from dataclasses import dataclass


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CHANGES = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, which field, what, and the fix."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class ProvisionError(Exception):
    exit_code = EXIT_FAILURE


class SpecError(ProvisionError):
    """The spec file is invalid; every problem found is listed."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
