"""The one error type the CLI turns into ``error: <problem>; <fix>`` and a non-zero exit."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix; carries the fix so every message says what to do next."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem
        self.fix = fix
