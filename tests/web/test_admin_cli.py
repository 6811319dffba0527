"""`helpline admin add|list|passwd|disable`: accounts for /admin, made from the command line."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot.__main__ import main
from bot.config import load_settings
from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.web import auth


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A migrated SQLite database the CLI finds through the environment."""
    monkeypatch.setenv("HELPLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HELPLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    migrate.upgrade(load_settings().database_url)
    return tmp_path


def run(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


async def stored_user(name: str):
    settings = load_settings()
    db = Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))
    try:
        async with db.uow() as uow:
            return await uow.accounts.user_by_name(name)
    finally:
        await db.dispose()


def test_admin_add_hashes_the_password_from_stdin_and_prints_the_id(env, monkeypatch, capsys):
    password = "correct horse battery\n"
    assert run(monkeypatch, "admin", "add", "Arta", "--role", "admin", "--password-stdin",
               stdin=password) == 0  # fmt: skip
    assert capsys.readouterr().out.strip().splitlines()[-1] == "1"
    user = asyncio.run(stored_user("arta"))
    assert user is not None and user.role == "admin" and user.municipality is None
    assert auth.verify_password(user.password_hash, "correct horse battery")
    assert "correct horse" not in user.password_hash


def test_admin_add_refuses_what_would_not_work(env, monkeypatch, capsys):
    # A coordinator without a municipality, a short password, a taken name.
    assert run(monkeypatch, "admin", "add", "b", "--role", "coordinator", "--password-stdin",
               stdin="long enough password") == 2  # fmt: skip
    assert run(monkeypatch, "admin", "add", "bb", "--role", "admin", "--password-stdin",
               stdin="short") == 2  # fmt: skip
    args = ("admin", "add", "cc", "--role", "coordinator", "--municipality", "tirane")
    assert run(monkeypatch, *args, "--password-stdin", stdin="long enough password") == 0
    assert run(monkeypatch, *args, "--password-stdin", stdin="long enough password") == 1
    assert "taken" in capsys.readouterr().err
    assert run(monkeypatch, "admin", "disable", "cc") == 0
    assert run(monkeypatch, "admin", "list") == 0
    assert "cc\tcoordinator\ttirane\tsq\tdisabled" in capsys.readouterr().out
