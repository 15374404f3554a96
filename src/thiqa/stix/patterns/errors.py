"""The one exception of the pattern package."""

from __future__ import annotations

__all__ = ["PatternError"]


class PatternError(ValueError):
    """A STIX pattern is not valid.

    ``reason`` says what is wrong, ``column`` (1-based, counted in characters) says
    where; ``str(error)`` combines both.
    """

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} (column {column})")
        self.reason = reason
        self.column = column
