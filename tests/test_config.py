"""Settings: a bad value names the variable and the form; state and .env from the working dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingError, load_settings


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HELPLINE_ACK_TIMEOUT", "5m", "PT5M (5 minutes)"),
        ("HELPLINE_SESSION_TTL", "1 day", "P1D (1 day)"),
        ("HELPLINE_FOLLOWUP_CADENCE", "1d,3d", "P1D,P3D,P7D"),
        ("HELPLINE_RETENTION_DAYS", "half a year", "whole number"),
        ("HELPLINE_SMS_RATE", "fast", "messages a second"),
        ("HELPLINE_EVENT_LOOP", "trio", "uvloop or asyncio"),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_expected_form(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(SettingError) as caught:
        load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), name: value})
    assert name in str(caught.value) and says in str(caught.value)


def test_the_command_says_so_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_ACK_TIMEOUT": "5m"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "coordinator", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "HELPLINE_ACK_TIMEOUT='5m' is not an ISO-8601 duration" in done.stderr


def test_state_and_env_file_come_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("HELPLINE_", "TWILIO_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    # Not https: a public https URL without its keys refuses to start (issue 14, item 3).
    (tmp_path / ".env").write_text("HELPLINE_PUBLIC_URL=http://helpline.example.org:8080\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.public_url == "http://helpline.example.org:8080"
    assert settings.var_dir == tmp_path / "var"
    assert settings.database_url.endswith(str(tmp_path / "var" / "helpline.db"))
    assert (tmp_path / "var" / "dev-keys.json").exists()
    assert (settings.flows_dir / "first_contact.yaml").exists()  # package data stays in place
