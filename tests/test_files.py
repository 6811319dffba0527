"""Local state is private from creation: var/ 0o700, dev-keys.json and SQLite 0o600 (issue 14)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.files import write_new_private
from bot.store import migrate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: what the code sets must not depend on the user's."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_dev_keys_and_var_are_private_from_creation(tmp_path: Path, open_umask, monkeypatch):
    var = tmp_path / "var"
    seen: list[int] = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kw):
        fd = real_open(path, flags, mode, *args, **kw)
        if flags & os.O_CREAT:
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the mode at the moment it exists
        return fd

    monkeypatch.setattr(os, "open", watching_open)
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(var)})
    assert settings.dev_keys
    assert mode(var) == 0o700
    assert mode(var / "dev-keys.json") == 0o600
    assert seen and set(seen) == {0o600}
    assert [p.name for p in var.iterdir()] == ["dev-keys.json"]  # no temporary file left
    again = load_settings(env={"HELPLINE_VAR_DIR": str(var)})
    assert again.data_keys == settings.data_keys


def test_an_older_world_readable_install_is_tightened(tmp_path: Path, open_umask) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    load_settings(env={"HELPLINE_VAR_DIR": str(var)})
    keys = var / "dev-keys.json"
    keys.chmod(0o644)
    load_settings(env={"HELPLINE_VAR_DIR": str(var)})
    assert (mode(var), mode(keys)) == (0o700, 0o600)


def test_two_processes_starting_at_once_share_one_key_file(tmp_path: Path) -> None:
    path = tmp_path / "dev-keys.json"
    wins = []
    threads = [
        threading.Thread(target=lambda n=n: wins.append(write_new_private(path, b"%d" % n)))
        for n in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert path.read_bytes() in {b"%d" % n for n in range(8)}


def test_the_sqlite_database_and_its_wal_are_private(tmp_path: Path, open_umask) -> None:
    var = tmp_path / "state"
    url = f"sqlite+aiosqlite:///{var / 'helpline.db'}"
    migrate.upgrade(url)
    assert mode(var) == 0o700
    with contextlib.closing(sqlite3.connect(var / "helpline.db")) as conn:  # WAL, kept open
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        modes = {f.name: mode(f) for f in var.iterdir()}
    assert modes == {"helpline.db": 0o600, "helpline.db-wal": 0o600, "helpline.db-shm": 0o600}
