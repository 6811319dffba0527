"""/admin/whatsapp: the WhatsApp sender and templates as configured, read-only, admins only."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import DB, build_app
from bot.config import load_settings
from bot.store import migrate
from bot.web import auth
from tests.auxil import twilio_payloads as tp
from tests.web.test_admin_app import PASSWORD, Clock, csrf_of

CHECKIN_SQ = "HX" + "c1" * 16


async def sign_in(client: TestClient, username: str) -> None:
    token = await csrf_of(client, "/admin/login")
    data = {"csrf": token, "username": username, "password": PASSWORD, "next": "/admin/"}
    async with client.post("/admin/login", data=data, allow_redirects=False) as resp:
        assert resp.status == 303


async def test_the_admin_sees_each_template_its_text_and_whether_it_is_set(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": "http://127.0.0.1",
            "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": tp.HELPLINE_WHATSAPP,
            "HELPLINE_WHATSAPP_TEMPLATES": f"checkin.sq={CHECKIN_SQ}",
            "HELPLINE_TWILIO_API_URL": "http://127.0.0.1:9",  # never called here
        }
    )
    await migrate.upgrade_async(settings.database_url)
    clock = Clock()
    app = build_app(settings, clock=clock)
    async with TestClient(TestServer(app)) as client:
        async with app[DB].uow() as uow:
            for name, role, place in (("boss", "admin", None), ("tira", "coordinator", "tirane")):
                await uow.accounts.add_user(
                    username=name,
                    password_hash=auth.hash_password(PASSWORD),
                    role=role,
                    municipality=place,
                    language="en",
                    now=clock(),
                )
            await uow.commit()
        await sign_in(client, "tira")
        async with client.get("/admin/whatsapp") as resp:
            assert resp.status == 403  # coordinators do not see the configuration
        client.session.cookie_jar.clear()
        await sign_in(client, "boss")
        async with client.get("/admin/whatsapp") as resp:
            assert resp.status == 200
            page = await resp.text()
        # The rota's form adds a coordinator who takes alerts on WhatsApp (a phone needed).
        token = await csrf_of(client, "/admin/rota")
        form = {"csrf": token, "name": "Beni", "municipality": "durres", "language": "sq"}
        async with client.post("/admin/rota/coordinators", data={**form, "whatsapp": "on"}) as r:
            assert "WhatsApp alerts need the phone number." in await r.text()
        form |= {"phone": "+355692220002", "whatsapp": "on"}
        async with client.post("/admin/rota/coordinators", data=form) as resp:
            assert resp.status == 200  # after the redirect
        async with app[DB].uow() as uow:
            beni = await uow.coordinators.find_by_urn("whatsapp:+355692220002")
        assert beni is not None and beni.name == "Beni"
    assert tp.HELPLINE_WHATSAPP in page and 'id="whatsapp-templates"' in page
    # Each template in both languages: the configured one with its SID, the others "not set".
    assert page.count("<tr data-template=") == 6
    assert CHECKIN_SQ in page and page.count("not set") == 5
    # The exact text to submit: the check-in's question and numbered replies, the alert's
    # reference as {{1}}; the quick replies' ids are the flow's option values.
    assert "Përshëndetje, jemi ne përsëri." in page and "1. Po" in page
    assert "Urgent request {{1}} is waiting for you." in page
    assert "<code>yes</code>: Yes" in page and "<code>later</code>: Not now" in page
