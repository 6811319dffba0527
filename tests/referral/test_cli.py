"""`helpline coordinator|duty|services`: ids printed last, local times, CSV import refusals."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

import pytest

from bot.config import load_settings
from bot.referral.cli import mask, normalise_phone, register_cli
from bot.store.db import Database
from tests.referral.harness import MUNICIPALITIES
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


@pytest.fixture
def helpline(db_url, tmp_path, capsys):
    """Runs `helpline ARGS...` against the test database; returns (status, stdout, stderr)."""
    settings = load_settings(
        env={
            "HELPLINE_DATABASE_URL": db_url,
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_VAR_DIR": str(tmp_path),
        }
    )
    db = Database(db_url, settings_crypto(settings))
    asyncio.run(_reset(db))
    parser = argparse.ArgumentParser(prog="helpline")
    register_cli(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(list(argv))
        status = args.func(settings, args)
        out = capsys.readouterr()
        return status, out.out, out.err

    run.db = db  # type: ignore[attr-defined]
    return run


def settings_crypto(settings):
    from bot.store.crypto import Crypto

    return Crypto(settings.data_keys, settings.secret_key)


async def _reset(db: Database) -> None:
    import sqlalchemy as sa

    from bot.store.models import Base

    if db.dialect == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    async with db.uow() as uow:
        await uow.municipalities.upsert_all(MUNICIPALITIES)
        await uow.commit()
    await db.dispose()


def _query(db: Database, fn):
    async def go():
        try:
            async with db.uow() as uow:
                return await fn(uow)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_coordinator_add_prints_the_id_last_and_list_masks_numbers(helpline):
    status, out, _ = helpline(
        "coordinator", "add", "--name", "Arta Hoxha", "--municipality", "tirane",
        "--phone", "069 222 0001", "--telegram-chat-id", "5001", "--lang", "en",
    )  # fmt: skip
    assert status == 0
    coordinator_id = int(out.strip().splitlines()[-1])
    found = _query(helpline.db, lambda uow: uow.coordinators.find_by_urn("tel:+355692220001"))
    assert (found.id, found.name, found.language) == (coordinator_id, "Arta Hoxha", "en")
    status, out, _ = helpline("coordinator", "list")
    assert f"{coordinator_id}\tArta Hoxha\ttirane\tcoordinator\ten" in out
    assert "+355692220001" not in out and "+355…001" in out


def test_a_coordinator_on_whatsapp_is_found_by_their_whatsapp_address(helpline):
    """--whatsapp: their phone takes alerts on WhatsApp; what they write there is theirs, with
    or without it."""
    for name, phone, flag in (
        ("Beni", "+355692220002", ["--whatsapp"]),
        ("Cela", "+355692220003", []),
    ):
        argv = ["--name", name, "--municipality", "durres", "--phone", phone, *flag]
        status, out, _ = helpline("coordinator", "add", *argv)
        assert status == 0
    found = _query(helpline.db, lambda uow: uow.coordinators.find_by_urn("whatsapp:+355692220002"))
    assert (
        found is not None
        and found.name == "Beni"
        and found.whatsapp_urn == "whatsapp:+355692220002"
    )
    # Cela takes no alerts there, but writing on WhatsApp she is a coordinator all the same.
    cela = _query(helpline.db, lambda uow: uow.coordinators.find_by_urn("whatsapp:+355692220003"))
    assert cela is not None and cela.name == "Cela" and cela.whatsapp_urn is None
    status, out, _ = helpline("coordinator", "list")
    assert "Beni" in out and "whatsapp" in out.split("Beni")[1].splitlines()[0]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--municipality", "tiran", "--phone", "+355692220001"], "did you mean tirane?"),
        (["--municipality", "tirane", "--phone", "12"], "--phone: not a valid phone number"),
        (["--municipality", "tirane", "--telegram-chat-id", "abc"], "must be a number"),
        (["--municipality", "tirane"], "give --phone or --telegram-chat-id"),
        (["--municipality", "tirane", "--telegram-chat-id", "5", "--whatsapp"], "--whatsapp needs"),
    ],
)  # fmt: skip
def test_coordinator_add_refuses_bad_input(helpline, argv, problem):
    status, out, err = helpline("coordinator", "add", "--name", "X", *argv)
    assert status == 1 and problem in err and out == ""


def test_the_same_number_twice_is_refused_and_remove_frees_it(helpline):
    args = (
        "coordinator",
        "add",
        "--name",
        "A",
        "--municipality",
        "national",
        "--phone",
        "+38344123456",
    )
    first = int(helpline(*args)[1].splitlines()[-1])
    status, _, err = helpline(*args)
    assert status == 1 and f"already belongs to coordinator {first}" in err
    assert helpline("coordinator", "remove", str(first))[0] == 0
    assert helpline("coordinator", "remove", str(first))[0] == 1
    assert helpline(*args)[0] == 0


def test_duty_times_are_local_to_the_municipality(helpline):
    tirane = helpline(
        "coordinator", "add", "--name", "A", "--municipality", "tirane", "--phone", "+355692220001"
    )[1].splitlines()[-1]
    kllokot = helpline(
        "coordinator", "add", "--name", "K", "--municipality", "kllokot", "--phone", "+38344123456"
    )[1].splitlines()[-1]
    status, out, _ = helpline(
        "duty", "add", tirane, "--start", "2026-07-01T20:00", "--end", "2026-07-02T08:00"
    )
    assert status == 0
    window_id = int(out.splitlines()[-1])
    status, out, _ = helpline(
        "duty", "add", kllokot, "--weekly", "mon-fri", "--from", "22:00", "--to", "6:00"
    )
    assert status == 0 and "weekly mon,tue,wed,thu,fri 22:00-06:00 (Europe/Belgrade)" in out
    assert helpline("duty", "add", tirane, "--always")[0] == 0

    shifts = _query(helpline.db, lambda uow: uow.coordinators.shifts())
    window = next(s for s in shifts if s.id == window_id)
    assert (window.starts_at, window.ends_at) == (  # CEST: UTC+2
        datetime(2026, 7, 1, 18, 0, tzinfo=UTC),
        datetime(2026, 7, 2, 6, 0, tzinfo=UTC),
    )
    status, out, _ = helpline("duty", "list")
    assert "2026-07-01 20:00 to 2026-07-02 08:00 (Europe/Tirane)" in out
    assert "always  [on duty now]" in out
    assert helpline("duty", "remove", str(window_id))[0] == 0
    assert helpline("duty", "remove", str(window_id))[0] == 1


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--start", "2026-07-01T20:00"], "--start needs --end"),
        (["--start", "2026-07-02T20:00", "--end", "2026-07-01T20:00"], "a start before its end"),
        (["--weekly", "funday", "--from", "08:00", "--to", "16:00"], "unknown day"),
        (["--weekly", "mon", "--from", "08:00", "--to", "08:00"], "use --always"),
        (["--weekly", "mon"], "--weekly needs --from"),
    ],
)  # fmt: skip
def test_duty_add_refuses_bad_times(helpline, argv, problem):
    cid = helpline(
        "coordinator", "add", "--name", "A", "--municipality", "tirane", "--phone", "+355692220001"
    )[1].splitlines()[-1]
    status, _, err = helpline("duty", "add", cid, *argv)
    assert status == 1 and problem in err
    assert (
        helpline("duty", "add", "999", "--always")[2].strip()
        == "helpline: no active coordinator 999"
    )


def test_services_import_is_all_or_nothing_and_export_round_trips(helpline, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(
        "country,municipality,kind,name,phone,hours,notes,serves\n"
        "AL,shkoder,shelter,Streha,022 100,24/7,SAMPLE,has\n"
        "AL,national,police,Policia,129,,,\n",
        encoding="utf-8",
    )
    status, out, _ = helpline("services", "import", str(good))
    assert (status, out.strip()) == (0, "imported 2 services (1 marked SAMPLE)")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text() + "AL,tirane,circus,X,129,,,\n", encoding="utf-8")
    status, _, err = helpline("services", "import", str(bad))
    assert status == 1
    assert "bad.csv:4: kind must be one of" in err and "nothing was imported" in err
    exported = tmp_path / "out.csv"
    assert helpline("services", "export", str(exported))[0] == 0
    assert exported.read_text(encoding="utf-8") == good.read_text(encoding="utf-8")
    status, out, _ = helpline("services", "export")
    assert out == good.read_text(encoding="utf-8")


def test_an_empty_directory_exports_the_shipped_one(helpline):
    status, out, err = helpline("services", "export")
    assert status == 0 and "exporting the shipped one" in err
    assert "AL,national,psychosocial," in out and "116 117" in out


def test_phone_numbers_and_masks():
    assert normalise_phone("069 222 0001") == "+355692220001"
    assert normalise_phone("+383 44 123 456") == "+38344123456"
    assert mask("+355692220001") == "+355…001" and mask(None) == "-"
