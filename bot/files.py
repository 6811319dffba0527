"""Local state (keys, the SQLite file) readable by the helpline's user only, from creation on."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _ours(st: os.stat_result) -> bool:
    """True for a file or directory this process's user owns (and may tighten)."""
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Make the directory (and missing parents) 0o700; with `tighten`, an existing one of ours
    too (the state directory: an older install made it world-readable).

    A sticky directory (/tmp) is shared by design and left alone.
    """
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    st = path.stat()
    if tighten and _ours(st) and st.st_mode & 0o077 and not st.st_mode & stat.S_ISVTX:
        path.chmod(PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Create the file empty with mode 0o600 if missing; tighten it if it is ours and open."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    st = path.stat()
    if _ours(st) and st.st_mode & 0o077:
        path.chmod(PRIVATE_FILE)


def write_new_private(path: Path, data: bytes) -> bool:
    """Write a new file with mode 0o600 from its creation, atomically and never over another.

    The data goes to a private temporary file first, which is then linked to `path`: a reader
    never sees it half written, and of two processes starting at once only one wins (False for
    the other, which then reads the winner's file).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)
