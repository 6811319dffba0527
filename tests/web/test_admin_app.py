"""/admin in process: sign-in, limits, expiry, CSRF, roles, audit, overrides, publish, CSV."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config import load_settings
from bot.demo import load_demo
from bot.flows.library import FlowLibrary
from bot.flows.loader import version_of
from bot.store import migrate
from bot.web import auth
from bot.web.admin import _sync_once
from bot.web.flows_pages import apply_publications
from bot.web.keys import CATALOGS, DB, FLOWS

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "a long enough password"
QUICK_EXIT = (Path(__file__).resolve().parents[2] / "bot" / "flows" / "quick_exit.yaml").read_text()


class Clock:
    """A clock the tests move."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """The app under test, its clock, and the ids of what the fixture made."""

    client: TestClient
    clock: Clock
    app: Any
    cases: dict[str, int]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """A whole helpline app (SQLite), with an admin, two coordinators and cases in two places."""
    var = tmp_path_factory.mktemp("admin-app")
    settings = load_settings(
        env={"HELPLINE_VAR_DIR": str(var), "HELPLINE_PUBLIC_URL": "http://127.0.0.1"}
    )
    await migrate.upgrade_async(settings.database_url)
    await load_demo(settings)
    clock = Clock()
    app = build_app(settings, clock=clock)
    async with TestClient(TestServer(app)) as client:
        db = app[DB]
        cases: dict[str, int] = {}
        async with db.uow() as uow:
            for name, role, place in (
                ("boss", "admin", None),
                ("tira", "coordinator", "tirane"),
                ("dura", "coordinator", "durres"),
            ):
                await uow.accounts.add_user(
                    username=name,
                    password_hash=auth.hash_password(PASSWORD),
                    role=role,
                    municipality=place,
                    language="en",
                    now=clock(),
                )
            contact, _ = await uow.contacts.get_or_create("tel:+355691234567", "sms", clock())
            await uow.messages.add_inbound(contact.id, "sms", "SM1", "ndihme, me rreh", clock())
            for place, count in (("tirane", 3), ("durres", 6)):
                for i in range(count):
                    case = await uow.cases.open(contact.id if i == 0 else None, clock())
                    await uow.cases.update(case.id, clock(), municipality=place, risk_level="high")
                    cases.setdefault(place, case.id)
            # Follow-up check-ins of the first Tirana case, answered in three ways.
            plan = await uow.followups.add_plan(
                kind="order",
                contact_id=contact.id,
                case_id=cases["tirane"],
                order_id=None,
                windows=["any"],
                tz="Europe/Tirane",
                starts_at=clock(),
                ends_at=clock() + timedelta(days=90),
                now=clock(),
            )
            for outcome in ["respected"] * 6 + ["breached"] + ["no_answer"] * 2:
                checkin = await uow.followups.add_checkin(
                    plan_id=plan.id,
                    contact_id=contact.id,
                    nominal_at=clock(),
                    due_at=clock(),
                    now=clock(),
                )
                await uow.followups.finish(checkin, outcome, clock())
            await uow.commit()
        yield Site(client, clock, app, cases)


async def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token a page's forms carry."""
    async with client.get(path) as resp:
        html = await resp.text()
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def sign_in(site: Site, username: str, password: str = PASSWORD) -> int:
    """Sign in on a fresh cookie jar; the status of the POST."""
    site.client.session.cookie_jar.clear()
    token = await csrf_of(site.client, "/admin/login")
    async with site.client.post(
        "/admin/login",
        data={"csrf": token, "username": username, "password": password, "next": "/admin/"},
        allow_redirects=False,
    ) as resp:
        return resp.status


async def test_pages_need_a_session_and_a_good_password(site: Site) -> None:
    site.client.session.cookie_jar.clear()
    async with site.client.get("/admin/cases", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/admin/login")
    assert await sign_in(site, "boss", "wrong password!") == 401
    assert await sign_in(site, "nobody", PASSWORD) == 401
    site.client.session.cookie_jar.clear()
    token = await csrf_of(site.client, "/admin/login")
    async with site.client.post(
        "/admin/login",
        data={"csrf": token, "username": "boss", "password": PASSWORD},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
        cookie = resp.headers["Set-Cookie"]
    # The session cookie: script-proof, same-site only, sent to /admin only.
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    async with site.client.get("/admin/stats") as resp:
        assert resp.status == 200
        assert "Cases per week by municipality" in await resp.text()


async def test_a_session_expires_after_idle_time(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    site.clock.now += auth.SESSION_IDLE - timedelta(minutes=1)
    async with site.client.get("/admin/cases", allow_redirects=False) as resp:
        assert resp.status == 200  # used in time: the expiry slides on
    site.clock.now += auth.SESSION_IDLE + timedelta(seconds=1)
    async with site.client.get("/admin/cases", allow_redirects=False) as resp:
        assert resp.status == 303


async def test_repeated_failures_lock_the_user_name_for_the_window(site: Site) -> None:
    for _ in range(auth.MAX_USER_FAILURES):
        assert await sign_in(site, "dura", "not the password") == 401
    assert await sign_in(site, "dura") == 429  # even the right password, for now
    site.clock.now += auth.LOGIN_WINDOW + timedelta(seconds=1)
    assert await sign_in(site, "dura") == 303


async def test_every_post_needs_this_sessions_csrf_token(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    url = "/admin/translations/edit?id=exit.done"
    for data in ({"sq": "x", "en": "y"}, {"sq": "x", "en": "y", "csrf": "0" * 64}):
        async with site.client.post(url, data=data) as resp:
            assert resp.status == 403
    token = await csrf_of(site.client, url)
    async with site.client.post(
        url, data={"csrf": token, "sq": "x", "en": "y"}, headers={"Origin": "https://evil.example"}
    ) as resp:
        assert resp.status == 403  # a token leaked to another site is still refused
    # Another session's token does not work here.
    assert await sign_in(site, "tira") == 303
    async with site.client.post("/admin/logout", data={"csrf": token}) as resp:
        assert resp.status == 403


async def test_a_coordinator_sees_only_her_municipality_also_by_url(site: Site) -> None:
    assert await sign_in(site, "tira") == 303
    async with site.client.get("/admin/cases") as resp:
        html = await resp.text()
    own, other = site.cases["tirane"], site.cases["durres"]
    assert f"/admin/cases/{own}" in html and f"/admin/cases/{other}" not in html
    async with site.client.get("/admin/cases?municipality=durres") as resp:
        assert f"/admin/cases/{other}" not in await resp.text()  # the filter cannot widen it
    async with site.client.get(f"/admin/cases/{other}") as resp:
        assert resp.status == 404
    async with site.client.get(f"/admin/cases/{own}") as resp:
        assert resp.status == 200
    for page in (
        "/admin/stats",
        "/admin/stats.csv",
        "/admin/flows",
        "/admin/translations",
        "/admin/rota",
        "/admin/directory",
        "/admin/audit",
        "/admin/users",
    ):
        async with site.client.get(page) as resp:
            assert resp.status == 403, page
    async with site.app[DB].uow() as uow:
        refused = [e for e in await uow.audit.list_all() if e.action == "case_access_refused"]
    assert [e.case_id for e in refused] == [other]


async def test_personal_data_is_shown_only_when_asked_and_the_asking_is_audited(
    site: Site,
) -> None:
    assert await sign_in(site, "tira") == 303
    case_id = site.cases["tirane"]
    async with site.client.get(f"/admin/cases/{case_id}") as resp:
        html = await resp.text()
    assert "+355691234567" not in html and "ndihme" not in html
    token = await csrf_of(site.client, f"/admin/cases/{case_id}")
    async with site.client.post(
        f"/admin/cases/{case_id}/reveal", data={"csrf": token, "reason": "call back"}
    ) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert "tel:+355691234567" in html and "ndihme, me rreh" in html
    async with site.app[DB].uow() as uow:
        user = await uow.accounts.user_by_name("tira")
        seen = [e for e in await uow.audit.list_all() if e.action == "case_personal_data_viewed"]
    assert user is not None
    assert [(e.case_id, e.admin_user_id, e.data["reason"]) for e in seen] == [
        (case_id, user.id, "call back")
    ]


async def test_a_translation_edit_is_served_at_once_and_placeholders_are_checked(
    site: Site,
) -> None:
    assert await sign_in(site, "boss") == 303
    catalogs = site.app[CATALOGS]
    url = "/admin/translations/edit?id=exit.done"
    token = await csrf_of(site.client, url)
    async with site.client.post(
        url, data={"csrf": token, "sq": "Mirupafshim {name}", "en": "Bye"}
    ) as resp:
        assert resp.status == 422  # a placeholder the message does not have
    assert catalogs.text("sq", "exit.done") != "Mirupafshim {name}"
    async with site.client.post(url, data={"csrf": token, "sq": "Mirupafshim.", "en": "Bye."}) as r:
        assert r.status == 200 and "Saved." in await r.text()
    assert catalogs.text("sq", "exit.done") == "Mirupafshim."
    async with site.client.get("/admin/translations/export/sq.po") as resp:
        assert 'msgid "exit.done"\nmsgstr "Mirupafshim."' in await resp.text()


async def test_a_broken_flow_is_refused_and_a_good_one_becomes_a_new_version(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    flows = site.app[FLOWS]
    old = flows.current["quick_exit"].version
    token = await csrf_of(site.client, "/admin/flows/quick_exit")
    broken = QUICK_EXIT.replace("end: exit", "next: nowhere")
    async with site.client.post(
        "/admin/flows/quick_exit/publish", data={"csrf": token, "source": broken}
    ) as resp:
        assert resp.status == 422
        assert "quick_exit.yaml:6: node bye: goes to &#39;nowhere&#39;" in await resp.text()
    assert flows.current["quick_exit"].version == old
    changed = QUICK_EXIT.replace(
        "      - say: exit.done\n", "      - say: exit.done\n      - say: fc.any_time\n"
    )
    async with site.client.post(
        "/admin/flows/quick_exit/publish", data={"csrf": token, "source": changed}
    ) as resp:
        assert resp.status == 200
    new = flows.current["quick_exit"].version
    assert new != old and flows.has_version("quick_exit", old)  # pinned sessions keep theirs
    async with site.client.get(f"/admin/flows/quick_exit/history?a={old}&b={new}") as resp:
        assert "+      - say: fc.any_time" in await resp.text()
    async with site.client.post(
        "/admin/flows/quick_exit/revert", data={"csrf": token, "version": old}
    ) as resp:
        assert resp.status == 200
    assert flows.current["quick_exit"].version == old


async def test_understanding_is_tried_checked_and_published_like_a_flow(site: Site) -> None:
    """An admin edits understanding.yaml in the browser: a mistake names its line and changes
    nothing; a good edit reads messages at once, here and in another worker."""
    assert await sign_in(site, "tira") == 303
    async with site.client.get("/admin/understanding", allow_redirects=False) as resp:
        assert resp.status in (403, 404)  # admins only
    assert await sign_in(site, "boss") == 303
    flows = site.app[FLOWS]
    original = flows.understanding_source
    token = await csrf_of(site.client, "/admin/understanding")

    async def reading(text: str, kind: str) -> str:
        async with site.client.post(
            "/admin/understanding/try", data={"csrf": token, "text": text, "kind": kind}
        ) as resp:
            assert resp.status == 200
            html = await resp.text()
        found = re.search(r'<p id="reading">.*?→ <code>(.*?)</code>', html)
        assert found, html[-500:]
        return found.group(1).replace("&#34;", '"')

    assert await reading("jam mirë", "danger_now") == '"no"'
    assert await reading("zzqx vjen", "anywhere") == '"none"'
    broken = original.replace("kercen*,", '"@nothing",', 1)
    async with site.client.post(
        "/admin/understanding/publish", data={"csrf": token, "source": broken}
    ) as resp:
        assert resp.status == 422
        html = await resp.text()
    assert "understanding.yaml:" in html and "no concept named &#39;nothing&#39;" in html
    assert flows.understanding_source == original  # the old file keeps serving
    edited = original.replace("kercen*,", "kercen*, zzqx,", 1)
    async with site.client.post(
        "/admin/understanding/publish", data={"csrf": token, "source": edited}
    ) as resp:
        assert resp.status == 200
    assert await reading("zzqx vjen", "anywhere") == '"danger"'
    # Another worker, still on the file, picks the publication up on its next sync.
    flows.serve_understanding(original)
    await apply_publications(site.app[DB], flows, site.clock(), record_files=False)
    assert flows.understanding_source == edited
    async with site.client.post(
        "/admin/understanding/publish", data={"csrf": token, "source": original}
    ) as resp:
        assert resp.status == 200
    assert flows.understanding_source == original


async def test_the_csv_export_suppresses_small_counts(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    async with site.client.get("/admin/stats.csv?period=all") as resp:
        rows = (await resp.text()).splitlines()
    week = "2026-03-02"
    assert f"cases,tirane,{week},<5" in rows  # three cases: could point at someone
    assert f"cases,durres,{week},5" in rows  # 6, rounded to base 5
    assert "risk_level,high,,10" in rows  # 9
    assert "followup_outcome,respected,,5" in rows and "followup_outcome,breached,,<5" in rows
    async with site.client.get("/admin/stats?period=all") as resp:
        html = await resp.text()
    assert "No follow-ups yet." not in html
    for label in ("respected", "breached", "no answer"):
        assert f">{label}</text>" in html  # a bar of the follow-up outcomes chart


async def test_trying_a_draft_stores_nothing(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    token = await csrf_of(site.client, "/admin/flows/screening")
    source = site.app[FLOWS].sources["screening"]

    async def count() -> tuple[int, ...]:
        async with site.app[DB].uow() as uow:
            session = uow.conn
            counts = []
            for table in ("contacts", "cases", "messages", "outbox", "sessions"):
                query = sa.text(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
                counts.append((await session.execute(query)).scalar_one())
            return tuple(counts)

    before = await count()
    headers = {"X-CSRF-Token": token}
    body = {"source": source, "restart": True, "language": "en"}
    async with site.client.post("/admin/flows/screening/try", json=body, headers=headers) as r:
        first = await r.json()
    async with site.client.post(
        "/admin/flows/screening/try", json={"source": source, "text": "yes"}, headers=headers
    ) as r:
        second = await r.json()
    assert first["ok"] and first["buttons"] and second["ok"] and second["reply"] != first["reply"]
    assert await count() == before


async def test_publications_outlive_a_restart_and_reach_other_workers(site: Site) -> None:
    flows = site.app[FLOWS]
    db = site.app[DB]
    changed = QUICK_EXIT.replace("- say: exit.done", "- say: fc.any_time")
    version = version_of(changed)
    # Another worker publishes: this one picks it up on its next sync.
    async with db.uow() as uow:
        await uow.flows.save("quick_exit", version, changed, site.clock())
        await uow.publications.publish("quick_exit", version, site.clock(), None, note="elsewhere")
        await uow.commit()
    assert flows.current["quick_exit"].version != version
    await _sync_once(site.app, {"parent": site.app})
    assert flows.current["quick_exit"].version == version
    # A restart loads the files again, and the publication still wins (the file is older).
    fresh = FlowLibrary(flows.directory)
    assert fresh.reload().ok
    await apply_publications(db, fresh, site.clock(), record_files=True)
    assert fresh.current["quick_exit"].version == version


async def test_working_a_case_from_the_web_follows_the_referral_rules(site: Site) -> None:
    assert await sign_in(site, "boss") == 303
    case_id = site.cases["durres"]
    url = f"/admin/cases/{case_id}"
    token = await csrf_of(site.client, url)
    async with site.client.post(f"{url}/note", data={"csrf": token, "text": "called"}) as r:
        assert r.status == 200  # followed the redirect back to the case
    async with site.client.post(f"{url}/type", data={"csrf": token, "type": "rape"}) as r:
        assert "rape" in await r.text()
    async with site.client.post(f"{url}/refer", data={"csrf": token, "service": "police"}) as r:
        assert r.status == 422  # not accepted yet, and never asked about the police
        assert "cannot become referred" in await r.text()
    async with site.client.post(f"{url}/close", data={"csrf": token, "outcome": "resolved"}) as r:
        html = await r.text()
    assert 'id="case-status">closed<' in html
    async with site.app[DB].uow() as uow:
        kinds = [e.kind for e in await uow.cases.events(case_id)]
        actions = [e.action for e in await uow.audit.list_all(case_id=case_id)]
    assert kinds[-3:] == ["note", "updated", "closed"]
    assert {"case_note", "case_type", "case_close"} <= set(actions)
    # The note's words stay hidden until asked for.
    async with site.client.get(url) as r:
        assert "called" not in await r.text()


async def test_each_user_chooses_the_ui_language(site: Site) -> None:
    assert await sign_in(site, "tira") == 303
    async with site.client.get("/admin/cases") as resp:
        assert "<h1>Cases" in await resp.text()  # made with --lang en in this fixture
    token = await csrf_of(site.client, "/admin/cases")
    async with site.client.post(
        "/admin/language", data={"csrf": token, "language": "sq", "next": "/admin/cases"}
    ) as resp:
        html = await resp.text()
    assert "<h1>Rastet" in html and 'lang="sq"' in html
    async with site.client.get("/admin/flows") as resp:
        assert resp.status == 403 and "vetëm për administratorët" in await resp.text()
    assert await sign_in(site, "boss") == 303  # another user keeps their own choice
    async with site.client.get("/admin/cases") as resp:
        assert "<h1>Cases" in await resp.text()


async def test_personal_data_needs_a_reason_and_nothing_shows_without_one(site: Site) -> None:
    assert await sign_in(site, "tira") == 303
    case_id = site.cases["tirane"]
    token = await csrf_of(site.client, f"/admin/cases/{case_id}")
    async with site.app[DB].uow() as uow:
        before = len(await uow.audit.list_all())
    for reason in (None, "", "   ", "x", "ok"):
        data = {"csrf": token} if reason is None else {"csrf": token, "reason": reason}
        async with site.client.post(f"/admin/cases/{case_id}/reveal", data=data) as resp:
            assert resp.status == 400
            html = await resp.text()
        assert "+355691234567" not in html and "ndihme, me rreh" not in html
        said = ("Say why you need the personal data", "Shkruani pse ju duhen")  # en or sq UI
        assert any(text in html for text in said)
    async with site.app[DB].uow() as uow:
        after = await uow.audit.list_all()
    assert not [e for e in after[before:] if e.action == "case_personal_data_viewed"]
