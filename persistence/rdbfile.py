"""Writing a file so that a crash leaves the old one or the new one, never a torn one.

Redis's procedure (rdb.c rdbSave): write `temp-<pid>.rdb` in `dir`, fsync it, rename it
over the target, then fsync the directory so the rename itself is durable. On any error
the temporary file is removed and the previous file is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

# rdb-save-incremental-fsync: fsync every 4 MB so the kernel never holds a huge dirty
# backlog that would stall the final fsync (Redis's REDIS_AUTOSYNC_BYTES).
AUTOSYNC_BYTES = 4 * 1024 * 1024


def fsync_directory(directory: str) -> None:
    fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_file_atomically(
    path: str,
    chunks: Iterable[bytes | bytearray],
    *,
    temp_path: str,
    incremental_fsync: bool = True,
) -> int:
    """Write `chunks` to `temp_path`, fsync, rename over `path`, fsync the directory.

    Returns the number of bytes written. Raises OSError (the temp file is removed).
    """
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    written = 0
    unsynced = 0
    try:
        try:
            for chunk in chunks:
                write_all(fd, chunk)
                written += len(chunk)
                unsynced += len(chunk)
                if incremental_fsync and unsynced >= AUTOSYNC_BYTES:
                    os.fdatasync(fd)
                    unsynced = 0
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    fsync_directory(os.path.dirname(path))
    return written
