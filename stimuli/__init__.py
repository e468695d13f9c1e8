"""Stimulus movies, protocols and the retina/LGN front end (numpy + scipy, never brian2)."""

__all__: list[str] = []
