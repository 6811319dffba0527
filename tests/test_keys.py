"""`helpline keys rotate`: everything re-encrypted under the newest key; older keys still read."""

from __future__ import annotations

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


async def _talk(db: Database) -> None:
    convo = await Harness(db).start()
    for text in ("pershendetje", "shqip", "po"):
        await convo.say(text, urn="tel:+355691110081", channel="sms")


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
