"""The simulator page in Chromium against the real helpline: a whole screening, layout, chrome."""

from __future__ import annotations

import asyncio
import re
import unicodedata

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Locator, Page, expect

from bot.hub import Hub
from bot.messages import Inbound
from bot.web.simulator import close_sockets, setup_simulator
from tests.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

BOT = "#messages li.msg.bot"
OPTIONS = "#messages .choices.current button"


def fold(text: str) -> str:
    """Lower case without diacritics, so labels match however the flow texts spell them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


async def open_page(browser, url: str, width: int) -> Page:
    """A fresh tab (own storage) on the simulator, connected."""
    context = await browser.new_context(viewport={"width": width, "height": 860})
    page = await context.new_page()
    await page.goto(url + "/simulator")
    await expect(page.locator("#status")).to_have_attribute("data-state", "open")
    return page


async def reply_after(page: Page, before: int) -> Locator:
    """The helpline's next message (waits for it, as the page receives it)."""
    await expect(page.locator(BOT)).to_have_count(before + 1)
    return page.locator(BOT).nth(before)


async def type_text(page: Page, text: str) -> Locator:
    """Type like a person (Enter sends) and return the reply."""
    before = await page.locator(BOT).count()
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")
    return await reply_after(page, before)


async def tap(page: Page, *labels: str) -> Locator:
    """Tap the first offered option whose label starts with one of `labels` (loosely)."""
    wanted = [fold(label) for label in labels]
    buttons = page.locator(OPTIONS)
    offered = [fold(t) for t in await buttons.all_inner_texts()]
    for index, label in enumerate(offered):
        if any(label.startswith(w) for w in wanted):
            before = await page.locator(BOT).count()
            await buttons.nth(index).click()
            return await reply_after(page, before)
    raise AssertionError(f"none of {labels} among the options offered: {offered}")


async def test_a_whole_screening_typed_without_diacritics_ends_high_risk_with_a_case(
    live_server, browser
):
    page = await open_page(browser, live_server, 1280)
    first = await type_text(page, "pershendetje")  # Albanian: answered in Albanian at once
    await expect(first.locator("button")).not_to_have_count(0)
    await tap(page, "po")  # safe to text now: a button
    await type_text(page, "jo")  # in danger right now: typed
    await type_text(page, "per veten")  # who for: typed, without ë
    question = await type_text(page, "tirana")  # municipality, as people type it
    await expect(question.locator("button")).not_to_have_count(0)  # the red flags begin
    await type_text(page, "po")  # a weapon: one critical red flag makes the risk high
    risk = page.locator("#events li[data-event=risk_assessed]")
    for _ in range(15):  # the other red flags, answered no until the screening ends
        if await risk.count():
            break
        await tap(page, "jo")
    await expect(risk).to_have_attribute("data-level", "high")
    await expect(risk).to_contain_text("weapon")
    await expect(page.locator("#risk-level")).to_have_text("high")
    await expect(page.locator("#case-ref")).to_have_text(re.compile(r"^R-[0-9A-Z]{4,}$"))
    await expect(page.locator("#events li[data-event=case_opened]")).to_contain_text(
        re.compile(r"R-[0-9A-Z]{4,}")
    )
    await expect(page.locator("#urgency")).to_have_text("URGJENT")
    await expect(page.locator("#events li[data-event=language_changed]")).to_contain_text("sq")

    # The demo coordinator's phone beside the chat got the alert, with a button to accept.
    reference = await page.locator("#case-ref").inner_text()
    phone = page.locator("#coordinator")
    alert = phone.locator("li.msg.bot", has_text=f"URGJENT {reference}")
    await expect(alert).to_have_count(1)
    await expect(alert).not_to_contain_text("pershendetje")  # never the person's words
    before = await page.locator(BOT).count()
    await alert.get_by_role("button", name=f"OK {reference}").click()
    told = await reply_after(page, before)
    await expect(told).to_contain_text("Një koordinator e ka marrë kërkesën tuaj")
    await expect(phone.locator("li.msg.bot").last).to_contain_text(f"{reference} është i yti")
    before = await page.locator(BOT).count()
    await phone.locator("#coord-text").fill(f"{reference} Jeni e sigurt tani?")
    await phone.locator("#coord-text").press("Enter")
    relayed = await reply_after(page, before)
    await expect(relayed).to_have_text("Përshëndetje.\nKoordinatori: «Jeni e sigurt tani?»")

    # Quick exit works anywhere and the panel shows the conversation ended.
    await page.locator("#text").fill("dil")
    await page.locator("#send").click()
    await expect(page.locator("#events li[data-event=session_ended]")).to_contain_text("exit")
    await page.context.close()


async def test_layout_at_1280_and_390_pixels_and_the_page_in_english(live_server, browser):
    page = await open_page(browser, live_server, 1280)
    banner = page.get_by_role("note")
    await expect(banner).to_contain_text("asgjë këtu nuk arrin te një koordinator i vërtetë")
    await expect(banner).to_contain_text("nothing here reaches a real coordinator")
    await page.get_by_role("button", name=re.compile("English")).click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".banner strong")).to_have_text(
        "Simulator — nothing here reaches a real coordinator."
    )
    await expect(page.get_by_label("Your message")).to_be_visible()
    await type_text(page, "hello")  # English: answered in English at once
    await expect(page.locator("#coord-title")).to_have_text("Coordinator's phone (DEMO)")
    await expect(page.locator("#coord-status")).to_have_attribute("data-state", "open")
    chat, phone = page.locator(".phone").first, page.locator("#coordinator")
    events = page.locator(".events")
    chat_box, phone_box = await chat.bounding_box(), await phone.bounding_box()
    events_box = await events.bounding_box()
    assert phone_box["x"] >= chat_box["x"] + chat_box["width"], "side by side at 1280 px"
    assert events_box["x"] >= phone_box["x"] + phone_box["width"], "side by side at 1280 px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "simulator-1280.png"))

    await page.set_viewport_size({"width": 390, "height": 844})
    chat_box, phone_box = await chat.bounding_box(), await phone.bounding_box()
    events_box = await events.bounding_box()
    assert phone_box["y"] >= chat_box["y"] + chat_box["height"], "the phone below the chat"
    assert events_box["y"] >= phone_box["y"] + phone_box["height"], "events below the phone"
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0, f"{overflow} px of sideways scroll at 390 px"
    for box in (chat_box, phone_box, events_box):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    await page.screenshot(path=str(SCREENSHOTS / "simulator-390.png"), full_page=True)
    await page.context.close()


async def test_reload_continues_and_new_conversation_starts_afresh(live_server, browser):
    page = await open_page(browser, live_server, 390)
    urn = await page.locator("body").get_attribute("data-urn")
    assert urn is not None and re.fullmatch(r"sim:[A-Za-z0-9_-]{22,64}", urn)
    await type_text(page, "ok")  # no language in it: the language menu
    await page.reload()
    await expect(page.locator("#status")).to_have_attribute("data-state", "open")
    assert await page.locator("body").get_attribute("data-urn") == urn
    await type_text(page, "shqip")  # the same conversation goes on after the reload
    await expect(page.locator("#events li[data-event=language_changed]")).to_have_count(1)

    await page.get_by_role("button", name="Bisedë e re").click()
    await expect(page.locator("#status")).to_have_attribute("data-state", "open")
    await expect(page.locator("body")).not_to_have_attribute("data-urn", urn)
    await expect(page.locator("#messages li")).to_have_count(0)
    await expect(page.locator("#events li")).to_have_count(0)
    first = await type_text(page, "pershendetje")  # a new person: the first questions again
    await expect(first.locator("button")).not_to_have_count(0)
    await page.context.close()


async def test_the_page_says_connecting_and_comes_back_to_the_same_conversation(browser):
    hub, received = Hub(), []

    async def receive(inbound: Inbound) -> None:
        """Record and echo, in place of the pipeline."""
        received.append(inbound)
        hub.publish_message(inbound.urn, f"echo: {inbound.text}")

    app = web.Application()
    setup_simulator(app, hub=hub, receive=receive)
    async with TestServer(app, host="127.0.0.1") as server:
        page = await open_page(browser, str(server.make_url("")).rstrip("/"), 390)
        urn = await page.locator("body").get_attribute("data-urn")
        # The page's states reach the test through a binding, not a polled expression: the
        # page's CSP forbids the eval that wait_for_function needs when it has to poll.
        connecting = asyncio.Event()
        await page.expose_function(
            "stateChanged", lambda state: connecting.set() if state == "connecting" else None
        )
        await page.evaluate(
            """() => {
                const status = document.getElementById("status");
                new MutationObserver(() => window.stateChanged(status.dataset.state))
                    .observe(status, {attributes: true, attributeFilter: ["data-state"]});
            }"""
        )
        await close_sockets(app)  # as on a server restart
        async with asyncio.timeout(30):  # a bound, not an expected duration
            await connecting.wait()
        await expect(page.locator("#status")).to_have_attribute("data-state", "open")
        await expect(page.locator("#status")).to_have_text("E lidhur")
        assert await page.locator("body").get_attribute("data-urn") == urn
        await type_text(page, "a jeni aty?")
        assert [(i.urn, i.text) for i in received] == [(urn, "a jeni aty?")]
        await page.context.close()
