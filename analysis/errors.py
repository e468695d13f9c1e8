"""Exception types raised on bad user input, shared by every package.

All of them derive from :class:`VentralColumnsError`, itself a :class:`ValueError`, so
callers can catch one type; the command-line interface turns them into a one-line
message and exit status 2.

Classes
-------
VentralColumnsError
    Base class: any problem with what the user gave us.
ConfigError
    Unknown keys, wrong types, wrong units or impossible values in a configuration.
SpikeDataError
    Spike arrays that violate the data model (NaN, negative, unsorted, ids out of range).
FileFormatError
    A missing, truncated, corrupt or foreign HDF5 file.
OutputExistsError
    An output that already exists and may not be overwritten.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "VentralColumnsError",
    "ConfigError",
    "SpikeDataError",
    "FileFormatError",
    "OutputExistsError",
    "suggest",
]


class VentralColumnsError(ValueError):
    """Base class of every user-facing error of ventral-columns."""


class ConfigError(VentralColumnsError):
    """A configuration value, key or unit is invalid."""


class SpikeDataError(VentralColumnsError):
    """Spike arrays violate the data model."""


class FileFormatError(VentralColumnsError):
    """A file is missing, truncated, corrupt or not a ventral-columns/SONATA file."""


class OutputExistsError(VentralColumnsError, FileExistsError):
    """An output exists already and ``overwrite`` was not requested."""


def suggest(name: str, valid: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid name, or ``""``.

    Parameters
    ----------
    name : str
        The unknown name the user gave.
    valid : iterable of str
        The names that are allowed.

    Examples
    --------
    >>> suggest("l5_exk", ["l5_exc", "l4_exc"])
    " (did you mean 'l5_exc'?)"
    """
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""
