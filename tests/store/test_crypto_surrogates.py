"""A survivor's text with a lone surrogate (a Telegram update may escape one: "\\ud800")."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import jsontext
from tests.pipeline_harness import Harness
from tests.store.fixtures import (  # noqa: F401
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
    statements_seen,
)

ENGINE_FLOWS = Path(__file__).resolve().parents[1] / "engine" / "flows"


async def test_a_lone_surrogate_is_refused_as_before_and_the_conversation_goes_on(db):
    """As before orjson: receive raises UnicodeEncodeError (her text is encrypted first),
    nothing of that message is kept, and her next message is answered as if it never came."""
    harness = await Harness(db, flows_dir=ENGINE_FLOWS, trigger_flow="main").start()
    assert await harness.say("hello") == ["t.lang\n1. t.sq\n2. t.en"]
    with pytest.raises(UnicodeEncodeError):
        await harness.pipeline.receive(harness.inbound("ndihmë \ud800"))
    assert await harness.say("shqip") == ["t.safe\n1. Po\n2. Jo"]
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        log = await uow.messages.list_for_contact(contact.id)
    assert [(d, t) for d, t, _ in log if d == "in"] == [("in", "hello"), ("in", "shqip")]


def test_a_state_or_payload_holding_one_is_refused_as_before(crypto):
    for value in ({"results": {"story": "a\ud800"}}, ["\udc00"], {"k\ud800": 1}):
        with pytest.raises(UnicodeEncodeError):
            jsontext.compact(value).encode()  # the old path
        with pytest.raises(UnicodeEncodeError):
            crypto.encrypt_json(value)
