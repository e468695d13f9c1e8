"""Stations wired into the ventral stream; owns the one explicit brian2 Network."""

__all__: list[str] = []
