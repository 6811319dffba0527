"""`helpline keys rotate`: everything re-encrypted under the newest key; older keys still read."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.__main__ import main
from bot.keys import rotate_keys
from bot.store.crypto import Crypto, DecryptionError
from bot.store.db import Database
from tests.pipeline_harness import Harness
from tests.security.leaks import decrypted_text
from tests.store.fixtures import SECRET_KEY, db_url, postgres_url, sqlite_template  # noqa: F401

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


async def _talk(db: Database, urn: str = "tel:+355691110081", first_id: int = 1) -> None:
    convo = await Harness(db).start()
    convo._ids = itertools.count(first_id)  # provider ids: the PostgreSQL database is shared
    for text in ("pershendetje", "shqip", "po"):
        await convo.say(text, urn=urn, channel="sms")


async def test_rotation_moves_everything_to_the_newest_key(db_url: str) -> None:
    before = Database(db_url, Crypto([OLD], SECRET_KEY))
    await _talk(before)
    readable = await decrypted_text(before)
    await before.dispose()

    rotating = Database(db_url, Crypto([NEW, OLD], SECRET_KEY))  # newest first
    # Before the rotation the new key is already used for writing, the old one still reads.
    assert await decrypted_text(rotating) == readable
    report = await rotate_keys(rotating, batch=7)  # small batches: several per table
    assert report.rotated["messages"] >= 6 and report.rotated["contacts"] >= 2
    again = await rotate_keys(rotating)
    assert sum(again.rotated.values()) == 0 and sum(again.current.values()) > 0
    await rotating.dispose()

    only_new = Database(db_url, Crypto([NEW], SECRET_KEY))
    assert await decrypted_text(only_new) == readable
    async with only_new.uow() as uow:
        assert await uow.contacts.find_by_urn("tel:+355691110081") is not None  # lookups still work
    await only_new.dispose()
    only_old = Database(db_url, Crypto([OLD], SECRET_KEY))
    with pytest.raises(DecryptionError):
        await decrypted_text(only_old)
    await only_old.dispose()


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    monkeypatch.setenv("HELPLINE_DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HELPLINE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("HELPLINE_DATA_KEYS", f"{NEW},{OLD}")
    assert main(["db", "upgrade"]) == 0
    assert main(["keys", "generate"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    Fernet(key)  # a valid key
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "messages: 0 re-encrypted" in out and out.strip().endswith(
        "older keys can now be removed"
    )
    assert main(["retention", "run"]) == 0
    assert "retention (180 days)" in capsys.readouterr().out


# -- issue 14, item 3 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"HELPLINE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/none"},
        {"HELPLINE_PUBLIC_URL": "https://helpline.example.org"},
        {"HELPLINE_PUBLIC_URL": "https://helpline.example.org", "HELPLINE_DATA_KEYS": NEW},
    ],
)
def test_a_deployment_without_its_keys_does_not_start(tmp_path: Path, env: dict) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "1"],
        env={"PATH": os.environ["PATH"], "HELPLINE_VAR_DIR": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "HELPLINE_SECRET_KEY" in run.stderr
    assert ("HELPLINE_DATA_KEYS" in run.stderr) is ("HELPLINE_DATA_KEYS" not in env)
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "dev-keys.json").exists()  # no key made up behind its back
    made = subprocess.run(
        [sys.executable, "-m", "bot", "keys", "generate"],
        env={"PATH": os.environ["PATH"], "HELPLINE_VAR_DIR": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0 and Fernet(made.stdout.strip())


async def _contact_under(url: str, keys: list[str], urn: str = "tel:+355691110082") -> None:
    db = Database(url, Crypto(keys, SECRET_KEY))
    await _talk(db, urn, first_id=500)
    await db.dispose()


async def test_healthz_says_when_the_keys_do_not_read_the_data(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import build_app
    from bot.config import load_settings
    from bot.store import migrate

    env = {"HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={**env, "HELPLINE_DATA_KEYS": OLD})
    await migrate.upgrade_async(settings.database_url)

    async def health(keys: str) -> tuple[int, dict]:
        app = build_app(load_settings(env={**env, "HELPLINE_DATA_KEYS": keys}))
        async with TestClient(TestServer(app)) as client, client.get("/healthz") as resp:
            return resp.status, await resp.json()

    assert await health(NEW) == (
        200,
        {"ok": True, "database": True, "keys": "ok", "writes": True},
    )  # nothing yet
    await _contact_under(settings.database_url, [OLD])
    assert await health(f"{NEW},{OLD}") == (
        200,
        {"ok": True, "database": True, "keys": "ok", "writes": True},
    )
    assert await health(NEW) == (
        503,
        {"ok": False, "database": True, "keys": "mismatch", "writes": True},
    )


async def test_a_person_under_a_lost_key_is_answered_as_someone_new(db_url: str) -> None:
    urn = "tel:+355691110083"  # the PostgreSQL database is shared by this file's tests
    await _contact_under(db_url, [OLD], urn)
    db = Database(db_url, Crypto([NEW], SECRET_KEY))  # the old key is gone
    try:
        async with db.uow() as uow:
            old = await uow.contacts.find_by_urn(urn)
        convo = await Harness(db).start()
        convo._ids = itertools.count(1000)  # provider ids the earlier conversations did not use
        replies = await convo.say("pershendetje", urn=urn, channel="sms")
        assert replies and "Pershendetje" in replies[0].replace("Përshëndetje", "Pershendetje")
        async with db.uow() as uow:
            fresh = await uow.contacts.find_by_urn(urn)
            flagged = [e for e in await uow.audit.list_all() if e.action == "contact_undecryptable"]
        assert old is None  # it could not be read even then
        assert fresh is not None and fresh.urn == urn
        assert [e.data for e in flagged] != [] and flagged[0].data["contact_id"] != fresh.id
        assert await convo.say("shqip", urn=urn, channel="sms")  # and the conversation goes on
    finally:
        await db.dispose()
