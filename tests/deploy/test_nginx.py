"""deploy/nginx in front of a real `helpline serve`: signed webhooks still validate through it."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.channels.twilio_sms import SMS_PATH
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.auxil.server_process import ROOT, ServerProcess, free_port, helpline
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = ROOT / "deploy" / "nginx"
PUBLIC = "https://helpline.example.org"
WAIT = 60.0

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx-light)"
)


def site(tmp: Path, upstream_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx as shipped, with this test's ports, certificate and paths."""
    (tmp / "tls").mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp / "tls/privkey.pem"), "-out", str(tmp / "tls/fullchain.pem"),
         "-subj", "/CN=helpline.example.org"],
        check=True, capture_output=True,
    )  # fmt: skip
    upstream = (DEPLOY / "upstream-local.conf").read_text()
    (tmp / "upstream.conf").write_text(upstream.replace(":8080", f":{upstream_port}"))
    shutil.copy(DEPLOY / "proxy-headers.conf", tmp / "proxy-headers.conf")
    conf = (DEPLOY / "helpline.conf").read_text()
    for shipped, here in [
        ("/etc/nginx/helpline-upstream.conf", str(tmp / "upstream.conf")),
        ("/etc/nginx/helpline-proxy-headers.conf", str(tmp / "proxy-headers.conf")),
        ("/etc/helpline-tls", str(tmp / "tls")),
        ("/var/www/acme", str(tmp)),
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
    ]:
        assert shipped in conf, shipped
        conf = conf.replace(shipped, here)
    (tmp / "site.conf").write_text(conf)
    main = tmp / "nginx.conf"
    main.write_text(
        # user: pytest's temporary directories are private to their owner, and nginx's
        # workers read the ACME webroot in them (a real webroot is world-readable).
        f"user {getpass.getuser()};\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events {}\n"
        f"http {{\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
        f"  include {tmp}/site.conf;\n}}\n"
    )
    return main


def shipped_trusted_proxies() -> str:
    """HELPLINE_TRUSTED_PROXIES as deploy/systemd/helpline.service sets it."""
    unit = (ROOT / "deploy" / "systemd" / "helpline.service").read_text()
    [line] = [x for x in unit.splitlines() if x.startswith("Environment=HELPLINE_TRUSTED_PROXIES=")]
    return line.split("=", 2)[2]


def nginx(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the nginx command."""
    return subprocess.run([NGINX, *args], capture_output=True, text=True, check=False)


@pytest.fixture
def nginx_ports() -> Iterator[tuple[int, int]]:
    """Two free ports for nginx's HTTP and HTTPS servers."""
    yield free_port(), free_port()


async def test_a_signed_sms_through_nginx_is_answered_and_a_forged_one_refused(
    tmp_path: Path, nginx_ports: tuple[int, int]
) -> None:
    fake = FakeTwilio()
    await fake.start()
    env = {
        "HELPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/helpline.db",
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,  # what Twilio calls: nginx's name, not the app's port
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": fake.url,
        # As deploy/systemd/helpline.service ships it; a small limit, so forgeries reach it.
        "HELPLINE_TRUSTED_PROXIES": shipped_trusted_proxies(),
        "HELPLINE_RATE_PER_IP": "3",
    }
    helpline("db", "upgrade", env=env)
    server = await ServerProcess(env).start()
    http_port, https_port = nginx_ports
    conf = await asyncio.to_thread(site, tmp_path / "nginx", server.port, http_port, https_port)
    checked = await asyncio.to_thread(nginx, "-t", "-c", str(conf))
    assert checked.returncode == 0, checked.stderr
    # As a daemon: the command returns once the master has bound its ports.
    started = await asyncio.to_thread(nginx, "-c", str(conf))
    assert started.returncode == 0, started.stderr
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # self-signed
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=insecure),
            headers={"Host": "helpline.example.org"},
        ) as http:
            base = f"https://127.0.0.1:{https_port}"
            async with http.get(base + "/healthz") as resp:
                assert resp.status == 200
            form = tp.inbound_sms("+355691110099", "pershendetje")
            headers = tp.signed_headers(PUBLIC + SMS_PATH, form)
            async with http.post(base + SMS_PATH, data=form, headers=headers) as resp:
                assert resp.status == 200
            async with asyncio.timeout(WAIT):
                await fake.wait_until(lambda: len(fake.messages) == 1)
            forged = {**form, "Body": "something else", "MessageSid": tp.new_sid()}
            async with http.post(base + SMS_PATH, data=forged, headers=headers) as resp:
                assert resp.status == 403
            # Issue 14: forgeries through nginx fill its one address's bucket...
            statuses = []
            for _ in range(5):
                async with http.post(base + SMS_PATH, data=forged, headers=headers) as resp:
                    statuses.append(resp.status)
            assert statuses[-1] == 429
            # ...and a genuine signed SMS from the same address still gets through.
            second = tp.inbound_sms("+355691110098", "pershendetje")
            signed = tp.signed_headers(PUBLIC + SMS_PATH, second)
            async with http.post(base + SMS_PATH, data=second, headers=signed) as resp:
                assert resp.status == 200
            async with asyncio.timeout(WAIT):
                await fake.wait_until(lambda: len(fake.messages) == 2)
            plain = f"http://127.0.0.1:{http_port}/webhooks/twilio/sms"
            async with http.get(plain, allow_redirects=False) as resp:
                assert resp.status == 301  # plain HTTP only leads to TLS
                assert resp.headers["Location"] == PUBLIC + SMS_PATH
            # Certificate renewal with nginx holding port 80: certbot --webroot writes the
            # challenge under the webroot, and Let's Encrypt fetches it over plain HTTP.
            challenge = tmp_path / "nginx" / ".well-known" / "acme-challenge"
            challenge.mkdir(parents=True)
            (challenge / "t0k3n").write_text("t0k3n.key-authorization")
            acme = f"http://127.0.0.1:{http_port}/.well-known/acme-challenge/t0k3n"
            async with http.get(acme, allow_redirects=False) as resp:
                assert resp.status == 200
                assert await resp.text() == "t0k3n.key-authorization"
    finally:
        await asyncio.to_thread(nginx, "-c", str(conf), "-s", "stop")
        await server.stop()
        await fake.stop()
    assert sorted(m["to"] for m in fake.messages.values()) == ["+355691110098", "+355691110099"]
