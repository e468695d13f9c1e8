"""One laminar cortical column as named Brian2 objects (builds, never runs, never writes)."""

__all__: list[str] = []
