"""Hostile input (hypothesis): the Twilio and Telegram webhooks through their real handlers and the
real pipeline, the flow loader and the coordinator command parser. No 5xx, no crash, nothing
stored for a request that is refused. Example counts are modest (the suite has a time budget)
and fixed (derandomized): `pytest --hypothesis-show-statistics` shows how many ran."""

from __future__ import annotations

import json
import re
import string
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.twilio_sms import SMS_PATH, STATUS_PATH
from bot.flows.loader import FlowError, parse_flow, parse_keywords
from bot.referral.commands import Command, parse, reference_of
from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as smsp
from tests.auxil.channels_app import PUBLIC, SECRET, ChannelsApp, channels_app, fakes
from tests.pipeline_harness import Harness
from tests.store.fixtures import DATA_KEYS, SECRET_KEY, sqlite_template  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

WEB = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same inputs every run: a failure here is reproducible
)
FAST = settings(max_examples=300, deadline=None, derandomize=True)
ROOT = Path(__file__).resolve().parents[2]

# Text as hostile people type it: any Unicode (surrogates excluded: not encodable), control
# characters, RTL marks, SQL and markup fragments, huge numbers.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "' OR 1=1; --",
            "<script>alert(1)</script>",
            "\u202egnp.exe",
            "\x00\x01\x02",
            "%s%s%n",
            "{0.__class__}",
            "R-" + "9" * 500,
            "OK R-",
            "🙂" * 200,
            "NUMRI R-0000",
        ]
    ),
)


class Line:
    """Both webhooks in front of a real pipeline on SQLite, and a way to count stored rows."""

    def __init__(self, app: ChannelsApp, db: Database) -> None:
        self.app, self.db = app, db

    async def stored(self) -> tuple[int, int]:
        """(messages, contacts) in the database now."""
        async with self.db.uow() as uow:
            messages = (await uow.conn.execute(sa.text("SELECT count(*) FROM messages"))).one()
            contacts = (await uow.conn.execute(sa.text("SELECT count(*) FROM contacts"))).one()
        return messages[0], contacts[0]

    async def post(self, path: str, data: Any, headers: dict[str, str]) -> int:
        if isinstance(data, dict):  # encoded here: aiohttp's client refuses some keys itself
            data = urlencode(data).encode()
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        async with self.app.client.post(path, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status


@pytest.fixture
def fuzz_db_path(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated SQLite file of the test's own."""
    path = tmp_path / "fuzz.db"
    path.write_bytes(sqlite_template.read_bytes())
    return path


@pytest.fixture
async def line(fuzz_db_path: Path, tmp_path: Path) -> AsyncIterator[Line]:
    path = fuzz_db_path
    db = Database(f"sqlite+aiosqlite:///{path}", Crypto(DATA_KEYS, SECRET_KEY))
    convo = await Harness(db).start()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, convo.pipeline, convo.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(app, db)
    await db.dispose()


form_fields = st.dictionaries(
    st.sampled_from(["From", "Body", "MessageSid", "SmsSid", "NumMedia", "OptOutType", "To", "X"])
    | st.text(max_size=20),
    hostile_text,
    max_size=8,
)


@WEB
@given(form=form_fields, signature=st.text(st.characters(min_codepoint=32, max_codepoint=126)))
async def test_twilio_forged_requests_are_refused_and_store_nothing(
    line: Line, form: dict[str, str], signature: str
) -> None:
    """Forged or missing signatures: 403, nothing stored, on both Twilio webhooks."""
    before = await line.stored()
    headers = {"X-Twilio-Signature": signature} if signature else {}
    for path in (SMS_PATH, STATUS_PATH):
        assert await line.post(path, form, headers) == 403
    assert await line.stored() == before


@WEB
@given(form=form_fields, body=hostile_text, phone=st.booleans())
async def test_twilio_signed_garbage_never_fails(
    line: Line, form: dict[str, str], body: str, phone: bool
) -> None:
    """Correctly signed (a leaked token, or Twilio itself) but arbitrary fields: 200 or 400,
    never 5xx; a 400 stores nothing."""
    if phone:  # half of them a real sender, so the pipeline runs on hostile bodies
        form = {**form, "From": "+35569" + str(zlib.crc32(body.encode()) % 10**7).zfill(7)}
        form.setdefault("MessageSid", smsp.new_sid())
        form["Body"] = body
    assume(all("\x00" not in k + v for k, v in form.items()))  # form encoding cannot carry NUL
    before = await line.stored()
    headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
    status = await line.post(SMS_PATH, form, headers)
    assert status in (200, 400, 429), status
    event(f"sms webhook answered {status}")
    if status != 200:
        assert await line.stored() == before
    status_headers = smsp.signed_headers(PUBLIC + STATUS_PATH, form)
    assert await line.post(STATUS_PATH, form, status_headers) in (200, 400)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mangled_updates(draw: st.DrawFn) -> Any:
    """A real Update shape with fields replaced by anything: wrong types, missing, extra."""
    base = draw(
        st.sampled_from(
            [
                tgp.text(1, "pershendetje"),
                tgp.update(2, message=tgp.message(5, text="po")),
                tgp.callback(3, "yes", query_id="q", message_id=7),
                tgp.update(4, message=tgp.message(6, -100123, text="hi")),  # a group
            ]
        )
    )
    update = json.loads(json.dumps(base))
    node = update
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(node, dict) or not node:
            break
        key = draw(st.sampled_from(sorted(node)))
        if draw(st.booleans()):
            node[key] = draw(json_values)
            break
        node = node[key]
    update["update_id"] = draw(st.integers(-(2**63), 2**63) | st.just(update["update_id"]))
    return update


@WEB
@given(
    payload=st.one_of(mangled_updates(), json_values, st.binary(max_size=200)),
    secret=st.sampled_from([SECRET, None, "", SECRET + "x", "wrong"]),
)
async def test_telegram_webhook_survives_anything(
    line: Line, payload: Any, secret: str | None
) -> None:
    """Wrong secret: 403 and nothing stored. Right secret: 200 or 400, never 5xx."""
    before = await line.stored()
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    status = await line.post(WEBHOOK_PATH, data, headers)
    event(f"telegram webhook answered {status}")
    if secret != SECRET:
        assert status == 403
    else:
        assert status in (200, 400, 429), status
    if status != 200:
        assert await line.stored() == before


# -- the flow loader -------------------------------------------------------------------------

SHIPPED = sorted((ROOT / "bot" / "flows").glob("*.yaml"))
yaml_noise = st.sampled_from(
    [":", "- ", "{", "}", "[", "]", "&a", "*a", "!!python/object:os.system", "\t", "\n", "  ",
     "?", "|", ">", "'", '"', "%YAML 1.1", "---", "...", "~", "null", "yes", "no", "1e999",
     "<<: *a", "!!binary", "\ufeff", "goto:", "router: yes_no", "ask:", "do:", "nodes:"]
)  # fmt: skip


@st.composite
def mutated_flows(draw: st.DrawFn) -> tuple[str, str]:
    """A shipped flow file with a few lines cut, repeated or spliced with YAML noise."""
    path = draw(st.sampled_from(SHIPPED))
    lines = path.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        action = draw(st.sampled_from(["drop", "dup", "noise", "indent"]))
        if not lines:
            break
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "noise":
            cut = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut] + draw(yaml_noise) + lines[i][cut:]
        else:
            lines[i] = "  " + lines[i]
    return path.name, "\n".join(lines)


@FAST
@given(source=mutated_flows() | st.tuples(st.just("x.yaml"), st.text(max_size=400)))
def test_the_flow_loader_reports_problems_never_crashes(source: tuple[str, str]) -> None:
    """A broken flow file is a FlowError naming file and line; nothing else ever escapes."""
    name, text = source
    try:
        if name == "keywords.yaml":
            parse_keywords(name, text, [p.stem for p in SHIPPED])
        else:
            parse_flow(name, text)
    except FlowError as exc:
        assert exc.problems
        assert all(p.file == name and p.line >= 1 and p.message for p in exc.problems)


# -- the coordinator command parser ----------------------------------------------------------

ACTIONS = {
    "accept",
    "relay",
    "number",
    "note",
    "type",
    "refer",
    "close",
    "cases",
    "help",
    "unknown",
}
words = st.sampled_from(
    ["OK", "po", "PRANOJ", "numri", "SHËNIM", "note", "lloji", "REFER", "mbyll", "rastet", "?",
     "NDIHMË", "R-4821", "r4821", "R-", "X-ABCD", "R-12", "zgjidhur", "strehim", "pa kontakt"]
)  # fmt: skip
commands = st.lists(words | st.text(alphabet=string.printable, max_size=12), max_size=6).map(
    " ".join
)


@FAST
@given(text=commands | hostile_text)
def test_the_command_parser_reads_anything(text: str) -> None:
    """Every text is some command (unknown at worst); references are always well formed."""
    command = parse(text)
    assert isinstance(command, Command) and command.action in ACTIONS
    if command.reference is not None:
        assert reference_of(command.reference) == command.reference
    assert parse(text) == command  # pure: the same text, the same command


@pytest.fixture
async def desk(fuzz_db_path: Path) -> AsyncIterator[Any]:
    """The referral desk on SQLite with one coordinator and one accepted case (R-…)."""
    from tests.referral.harness import Desk

    db = Database(f"sqlite+aiosqlite:///{fuzz_db_path}", Crypto(DATA_KEYS, SECRET_KEY))
    desk = await Desk(db).start()
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    await desk.say("hi")
    await desk.say("Tirana")
    await desk.say("po")
    sent = await desk.say("më rreh")
    desk.reference = re.search(r"R-[0-9A-Z]{4,}", " ".join(m.text for m in sent)).group(0)
    await desk.say(f"OK {desk.reference}", "tel:+355692220001")
    yield desk
    await db.dispose()


@WEB
@given(text=commands | hostile_text, with_reference=st.booleans())
async def test_coordinator_commands_through_the_pipeline_never_fail(
    desk: Any, text: str, with_reference: bool
) -> None:
    """Whatever a coordinator types about a real case, the desk answers; nothing fails."""
    if with_reference:
        text = text.replace("R-4821", desk.reference).replace("r4821", desk.reference)
    handled = await desk.pipeline.receive(desk.inbound(text, "tel:+355692220001"))
    assert handled.status == "processed"
    await desk.drain()
