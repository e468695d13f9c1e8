"""Safe output files: write under a temporary name, rename when complete, never clobber.

Functions
---------
check_output_path
    Refuse an existing output unless ``overwrite`` and an unwritable directory.
atomic_output
    Context manager yielding a temporary path in the target directory; renamed over the
    final path on success, removed (or kept as a marked partial file) on failure.
partial_path
    The name under which an interrupted output is kept when asked.
write_json
    Atomically write a JSON document.
write_failure
    The reason when an exception is a failed write (full disk, file size limit, quota).

Classes
-------
OutputWriteError
    An output could not be written; nothing was left under its final name.

A rename within one directory is atomic on POSIX file systems (``os.replace``), so a
reader never sees a half-written file under the final name, whatever interrupts us.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analysis.errors import OutputExistsError, VentralColumnsError

__all__ = [
    "OutputWriteError",
    "check_output_path",
    "atomic_output",
    "partial_path",
    "remove_stale_temporaries",
    "write_json",
    "json_default",
    "write_failure",
]

logger = logging.getLogger(__name__)

#: errno values of a write refused by the system (no room, size limit, quota, no
#: permission, read-only file system, broken device): the user's problem, not a bug.
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}
)


class OutputWriteError(VentralColumnsError, OSError):
    """An output could not be written (disk full, file size limit, quota, no permission).

    Also an :class:`OSError`, so callers that caught the raw failure still catch it.
    """

    @classmethod
    def for_path(cls, path: str | os.PathLike[str], reason: str) -> OutputWriteError:
        """The one-line error for ``path`` and a reason such as ``"No space left on device"``."""
        return cls(f"cannot write {path}: {reason}; nothing was written under that name")


def write_failure(exc: BaseException) -> str | None:
    """The reason (``os.strerror``) when ``exc`` is a write the system refused, else ``None``.

    Recognises an :class:`OSError` with one of the errno values of a full disk, a file
    size limit (``RLIMIT_FSIZE``), a quota, a missing permission, a read-only file system
    or an I/O error, and HDF5's errors, which carry the errno only in their text
    (``"errno = 28"``).

    Examples
    --------
    >>> write_failure(OSError(28, "No space left on device"))
    'No space left on device'
    >>> write_failure(RuntimeError("Can't close dataset (file write failed: errno = 27, ...)"))
    'File too large'
    >>> write_failure(KeyError("x")) is None
    True
    """
    if isinstance(exc, OutputWriteError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return os.strerror(exc.errno)
    if isinstance(exc, (OSError, RuntimeError)):
        match = re.search(r"errno = (\d+)", str(exc))
        if match and int(match.group(1)) in _WRITE_ERRNOS:
            return os.strerror(int(match.group(1)))
    return None




def json_default(obj: Any) -> Any:
    """``json.dumps`` hook for numpy scalars and arrays."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def partial_path(path: str | os.PathLike[str]) -> Path:
    """``run.h5`` → ``run.partial.h5``: where an interrupted output is kept on request."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def _unused_partial_path(path: Path) -> Path:
    """:func:`partial_path`, or ``run.partial-2.h5``, ``-3``... when earlier ones exist.

    The partial file of an earlier interruption may be all that is left of a long run;
    a second interruption keeps its own next to it instead of replacing it.
    """
    kept = partial_path(path)
    k = 2
    while kept.exists():
        kept = path.with_name(f"{path.stem}.partial-{k}{path.suffix}")
        k += 1
    return kept


def check_output_path(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Validate an output path before any work is done.

    Parameters
    ----------
    path : path-like
        Final output file.
    overwrite : bool
        Allow replacing an existing file.

    Returns
    -------
    pathlib.Path
        The path, with a missing parent directory created.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is false.
    VentralColumnsError
        The path is a directory, or the directory cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise VentralColumnsError(f"output {path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"output {path} exists; pass --overwrite (overwrite=True) to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VentralColumnsError(f"cannot create output directory {path.parent}: {exc.strerror}") from None
    if not os.access(path.parent, os.W_OK):
        raise VentralColumnsError(f"output directory {path.parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], overwrite: bool = False, keep_partial: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final output file.
    overwrite : bool
        Allow replacing an existing file (checked before and again at the rename).
    keep_partial : bool
        On failure keep what was written as :func:`partial_path` instead of deleting it
        (``<stem>.partial-2<suffix>``, ``-3``... when an earlier partial file exists).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputWriteError
        The block failed to write (full disk, file size limit...): the temporary file is
        removed, even with ``keep_partial``.
    """
    final = check_output_path(path, overwrite)
    # hidden, unique, and ending in the final suffix (writers such as pynwb check it)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield tmp
    except BaseException as exc:
        reason = write_failure(exc)
        if tmp.exists():
            # A write that failed for lack of room leaves a file that is likely unreadable
            # and only takes more of the full disk: it is never kept, even as partial.
            if keep_partial and reason is None:
                kept = _unused_partial_path(final)
                os.replace(tmp, kept)
                logger.warning("interrupted: kept the partial output as %s", kept)
            else:
                tmp.unlink()
        if reason is not None and not isinstance(exc, OutputWriteError):
            raise OutputWriteError.for_path(final, reason) from None
        raise
    if final.exists() and not overwrite:
        tmp.unlink(missing_ok=True)
        raise OutputExistsError(f"output {final} appeared while writing; not replaced")
    try:
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputWriteError.for_path(final, exc.strerror or type(exc).__name__) from None


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files of :func:`atomic_output` for ``path`` whose writer is gone.

    A writer killed outright (SIGKILL, a machine or session stopped) cannot remove its
    hidden ``.<name>.tmp-<pid>-<id><suffix>`` file; a rerun that writes ``path`` again calls
    this first. A file whose process id still runs on this machine is left alone.

    Returns
    -------
    list of Path
        The files deleted.
    """
    final = Path(path)
    removed = []
    for stale in final.parent.glob(f".{final.name}.tmp-*{final.suffix}"):
        pid = stale.name[len(f".{final.name}.tmp-"):].split("-", 1)[0]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        stale.unlink(missing_ok=True)
        removed.append(stale)
        logger.info("removed %s, left by an interrupted writer", stale)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_json(path: str | os.PathLike[str], document: Any, overwrite: bool = False) -> Path:
    """Atomically write ``document`` as indented JSON (numpy values converted).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputWriteError
        The disk is full, a file size limit was hit or the directory refuses writes;
        ``path`` is untouched.
    """
    with atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, default=json_default, allow_nan=True)
            handle.write("\n")
    return Path(path)
