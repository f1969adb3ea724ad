"""Enumerations whose members are their own text: typed in the code, plain strings in the JSON
output and the messages (`Action.CREATE` prints and serialises as "create")."""
from __future__ import annotations

import enum


class TextEnum(str, enum.Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
