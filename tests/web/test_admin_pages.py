"""/admin in Chromium against a real `helpline serve`: sign-in, translations, flows, roles, charts.

The server is this module's own (it edits texts and publishes flows, which must not leak into
the simulator tests sharing `live_server`). Every page is photographed at 1280×800 and 390 px.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from bot.config import load_settings
from bot.demo import load_demo
from bot.referral import cases as case_rules
from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.web import auth
from tests.conftest import ROOT, SCREENSHOTS, _free_port, helpline_env, serving

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a long enough password"
QUICK_EXIT = (ROOT / "bot" / "flows" / "quick_exit.yaml").read_text()
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AUDIT_SEEDED = 250
AUDIT_START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Server:
    """The admin test server: its URL and the ids of the cases made for it."""

    url: str
    tirane_case: int
    durres_case: int
    tirane_reference: str


async def _prepare(env: dict[str, str]) -> tuple[int, int, str]:
    """Schema, demo data, two users, and cases in five places (figures only), some accepted.

    In process (one `helpline ...` command costs a second or two of start-up each).
    """
    settings = load_settings(env=env)
    await migrate.upgrade_async(settings.database_url)
    await load_demo(settings)
    db = Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))
    start = datetime.now(UTC) - timedelta(days=40)
    ids: dict[str, int] = {}
    references: dict[str, str] = {}
    try:
        async with db.uow() as uow:
            for name, role, place, language in (
                ("boss", "admin", None, "en"),
                ("tira", "coordinator", "tirane", "sq"),
            ):
                await uow.accounts.add_user(
                    username=name,
                    password_hash=auth.hash_password(PASSWORD),
                    role=role,
                    municipality=place,
                    language=language,
                    now=start,
                )
            [demo] = await uow.coordinators.list_all()
            contact, _ = await uow.contacts.get_or_create("tel:+355691110000", "sms", start)
            await uow.messages.add_inbound(contact.id, "sms", "SMx", "me ndihmoni ju lutem", start)
            for i in range(30):
                at = start + timedelta(days=i, hours=i % 5)
                place = ("tirane", "durres", "shkoder", "prishtine", "has")[i % 5]
                case = await uow.cases.open(contact.id if i < 2 else None, at)
                case = await uow.cases.update(
                    case.id,
                    at,
                    municipality=place,
                    risk_level=("high", "medium", "standard")[i % 3],
                    urgency="urgent" if i % 3 == 0 else "normal",
                    category=case_rules.GBV_TYPES[i % 4],
                )
                ids.setdefault(place, case.id)
                references.setdefault(place, case.reference)
                if i % 2 == 0:
                    await case_rules.accept(uow, case, demo.id, at + timedelta(minutes=2 + i))
            # An old, long audit log: 250 exports a day apart, every tenth about the Tirana case.
            for i in range(AUDIT_SEEDED):
                await uow.audit.add(
                    "stats_exported",
                    now=AUDIT_START + timedelta(days=i),
                    case_id=ids["tirane"] if i % 10 == 0 else None,
                    data={"seeded": i},
                )
            await uow.commit()
    finally:
        await db.dispose()
    return ids["tirane"], ids["durres"], references["tirane"]


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`helpline serve` with an admin (English UI), a Tirana coordinator (Albanian) and cases."""
    var = tmp_path_factory.mktemp("admin-var")
    port = _free_port()
    env = helpline_env(var, f"http://127.0.0.1:{port}")
    tirane, durres, reference = asyncio.run(_prepare(env))
    with serving(var, port, env) as url:
        yield Server(url, tirane, durres, reference)


async def shoot(page: Page, name: str, *, full: bool = True) -> None:
    """Screenshots at 1280×800 and at phone width (390 px), full page unless it is endless."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", WIDE), ("390", PHONE)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"admin-{name}-{label}.png"), full_page=full)
    await page.set_viewport_size(WIDE)


async def signed_in(browser: Any, server: Server, username: str) -> Page:
    """A fresh browser context, signed in through the form."""
    context = await browser.new_context(viewport=WIDE)
    page = await context.new_page()
    await page.goto(server.url + "/admin/")
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in")
    await expect(page.locator("#logout")).to_be_visible()
    return page


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin_page(browser: Any, admin_server: Server) -> Any:
    """The admin's tab, shared by the tests of this module."""
    page = await signed_in(browser, admin_server, "boss")
    yield page
    await page.context.close()


async def simulator_reply(browser: Any, server: Server, text: str) -> str:
    """Write `text` in a fresh simulator tab (a new person); the helpline's first answer."""
    context = await browser.new_context(viewport=WIDE)
    try:
        page = await context.new_page()
        await page.goto(server.url + "/simulator")
        await expect(page.locator("#status")).to_have_attribute("data-state", "open")
        await page.locator("#text").fill(text)
        await page.locator("#text").press("Enter")
        bot = page.locator("#messages li.msg.bot")
        await expect(bot).to_have_count(1)
        return await bot.first.inner_text()
    finally:
        await context.close()


async def test_sign_in_and_every_page(browser: Any, admin_server: Server, admin_page: Page) -> None:
    context = await browser.new_context(viewport=WIDE)
    login = await context.new_page()
    await login.goto(admin_server.url + "/admin/cases")
    # Not signed in: to the sign-in page, which leads back there after.
    await expect(login).to_have_url(re.compile(r"/admin/login\?next=(%2F|/)admin(%2F|/)cases$"))
    await login.fill("input[name=username]", "boss")
    await login.fill("input[name=password]", "wrong password")
    await login.click("#sign-in")
    await expect(login.locator(".error")).to_be_visible()
    await shoot(login, "login")
    await expect(login.locator("input[name=username]")).to_have_value("boss")
    await login.fill("input[name=password]", PASSWORD)
    await login.click("#sign-in")
    await expect(login).to_have_url(admin_server.url + "/admin/cases")
    await context.close()

    page = admin_page
    base = admin_server.url + "/admin"
    for name, path, marker in (
        ("stats", "/stats", "svg.weekly-chart"),
        ("cases", "/cases", "#cases"),
        ("case", f"/cases/{admin_server.tirane_case}", "#timeline"),
        ("flows", "/flows", "#flows"),
        ("flow", "/flows/first_contact", "svg.flow-diagram"),
        ("translations", "/translations", "#translations"),
        ("translation-edit", "/translations/edit?id=exit.done", "#translation-form"),
        ("rota", "/rota", "#week"),
        ("directory", "/directory", "#directory"),
        ("users", "/users", "#users"),
    ):
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, path
        await expect(page.locator(marker).first).to_be_visible()
        await shoot(page, name, full=name != "translations")  # ~200 texts: the first screen
    # Showing personal data is asked for, then recorded in the audit log admins read.
    await page.goto(f"{base}/cases/{admin_server.tirane_case}")
    await page.fill("input[name=reason]", "to call her back")
    await page.click("#reveal")
    await expect(page.locator("#urn")).to_have_text("tel:+355691110000")
    await shoot(page, "case-revealed")
    await page.goto(base + "/audit")
    await expect(page.locator("#audit tr[data-action=case_personal_data_viewed]")).to_have_count(1)
    await shoot(page, "audit")


async def test_a_chart_renders(admin_server: Server, admin_page: Page) -> None:
    page = admin_page
    await page.goto(admin_server.url + "/admin/stats?period=12w")
    bars = page.locator("svg.weekly-chart rect.bar")
    assert await bars.count() > 5
    box = await page.locator("svg.weekly-chart").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    await expect(page.locator("#total")).to_have_text("30")
    await expect(page.locator("#followup-outcomes")).to_contain_text("No follow-ups yet.")
    assert await page.locator("svg.bar-chart rect.bar").count() >= 4  # risk, types, p50/p90


async def test_an_edited_translation_is_what_the_simulator_says(
    browser: Any, admin_server: Server, admin_page: Page
) -> None:
    page = admin_page
    before = await simulator_reply(browser, admin_server, "DIL")
    await page.goto(admin_server.url + "/admin/translations/edit?id=exit.done")
    text = "U mbyll. Shkruani kur të doni."
    await page.fill("#text-sq", text)
    await expect(page.locator("#seg-sq")).to_have_attribute("data-parts", "1")
    await page.click("#save")
    await expect(page.locator(".notice")).to_have_text("Saved.")
    after = await simulator_reply(browser, admin_server, "DIL")
    assert before != after and after.startswith(text)


async def test_a_broken_flow_shows_its_error_while_the_old_one_serves_then_a_change_publishes(
    browser: Any, admin_server: Server, admin_page: Page
) -> None:
    page = admin_page
    await page.goto(admin_server.url + "/admin/flows/quick_exit")
    serving = await page.locator("#serving-version").inner_text()
    editor = page.locator("#source")
    await editor.fill(QUICK_EXIT.replace("end: exit", "next: nowhere"))
    await expect(page.locator("#check-status")).to_have_attribute("data-state", "error")
    await expect(page.locator("#problems li")).to_contain_text(
        "quick_exit.yaml:6: node bye: goes to 'nowhere', no such node"
    )
    await expect(page.locator("#publish")).to_be_disabled()
    await shoot(page, "flow-broken")
    # The old version keeps serving while the editor holds a broken one.
    # (Its words are the catalog's, or an earlier test's edit of them: this test runs alone too.)
    old_reply = await simulator_reply(browser, admin_server, "DIL")
    assert old_reply

    changed = QUICK_EXIT.replace(
        "      - say: exit.done\n", "      - say: exit.done\n      - say: fc.any_time\n"
    )
    await editor.fill(changed)
    await expect(page.locator("#check-status")).to_have_attribute("data-state", "ok")
    # Try the draft in the sandbox first: the engine runs it, nothing is stored.
    await page.click("#try-start")
    await expect(page.locator("#try-log li.msg.bot")).to_have_count(1)
    assert (await page.locator("#try-log li.msg.bot").inner_text()).startswith(old_reply)
    await shoot(page, "flow-try")
    await page.fill("input[name=note]", "say when they can write again")
    await page.click("#publish")
    await expect(page.locator(".notice")).to_contain_text("Published")
    assert await page.locator("#serving-version").inner_text() != serving
    new_reply = await simulator_reply(browser, admin_server, "DIL")
    assert new_reply.startswith(old_reply) and len(new_reply) > len(old_reply)
    await page.goto(admin_server.url + "/admin/flows/quick_exit/history")
    await page.locator("#history a", has_text="Changes").first.click()
    await expect(page.locator("#diff .add")).to_contain_text(["+      - say: fc.any_time"])
    await shoot(page, "flow-history")


async def test_a_coordinator_cannot_open_another_municipalitys_case(
    browser: Any, admin_server: Server
) -> None:
    page = await signed_in(browser, admin_server, "tira")
    try:
        await expect(page.locator("h1")).to_contain_text("Rastet")  # her UI is in Albanian
        rows = page.locator("#cases tbody tr")
        await expect(rows).to_have_count(6)  # the 30 cases: 6 in Tirana
        await expect(
            page.locator(f"a[href='/admin/cases/{admin_server.durres_case}']")
        ).to_have_count(0)
        await shoot(page, "coordinator-cases")
        response = await page.goto(f"{admin_server.url}/admin/cases/{admin_server.durres_case}")
        assert response is not None and response.status == 404
        await expect(page.locator("#error-page")).to_contain_text("nuk keni të drejtë")
        await shoot(page, "coordinator-refused")
        response = await page.goto(f"{admin_server.url}/admin/cases/{admin_server.tirane_case}")
        assert response is not None and response.status == 200
        response = await page.goto(f"{admin_server.url}/admin/flows")
        assert response is not None and response.status == 403
    finally:
        await page.context.close()


async def test_the_audit_log_pages_back_to_its_first_entry_and_filters(
    admin_server: Server, admin_page: Page
) -> None:
    page = admin_page
    base = admin_server.url + "/admin/audit"
    # However many entries came after, the oldest is reached by paging ("Older entries").
    await page.goto(base + "?action=stats_exported")
    seen: set[str] = set()
    while True:
        rows = page.locator("#audit tbody tr[data-action=stats_exported]")
        seen.update(await rows.evaluate_all("rows => rows.map(r => r.dataset.id)"))
        older = page.locator("#audit-older")
        if await older.count() == 0:
            break
        await older.click()
    assert len(seen) >= AUDIT_SEEDED  # the 250 seeded, and any export the other tests made
    await expect(page.locator("#audit tbody tr").last).to_contain_text("2025-01-01 12:00:00")
    await shoot(page, "audit-last-page")
    # Filters: the case's reference, and dates.
    reference = admin_server.tirane_reference
    await page.goto(f"{base}?action=stats_exported&case={reference}&from=2025-01-01&to=2025-03-31")
    await expect(page.locator("#audit tbody tr[data-action=stats_exported]")).to_have_count(9)
    await page.goto(base + "?from=2025-13-01")
    await expect(page.locator("#audit-error")).to_be_visible()
    await expect(page.locator("#audit tbody tr[data-action]")).to_have_count(0)
