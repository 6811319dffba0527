"""The Makefile: `make run` installs the locked runtime set only, `make test` adds the tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(target: str, tmp_path: Path) -> str:
    """What `make TARGET` would run on a machine without a virtualenv (dry run)."""
    done = subprocess.run(
        ["make", "-n", f"VENV={tmp_path / 'venv'}", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_run_installs_the_locked_runtime_set_and_no_test_tools(tmp_path: Path) -> None:
    run = planned("run", tmp_path)
    assert "--require-hashes -r requirements.lock" in run
    assert "--no-deps -e ." in run
    assert "requirements-dev.lock" not in run and "[dev]" not in run
    test = planned("test", tmp_path)
    assert "--require-hashes -r requirements.lock" in test
    assert "--require-hashes -r requirements-dev.lock" in test


def test_the_locks_pin_every_package_with_hashes() -> None:
    for name, must in (("requirements.lock", "zxcvbn=="), ("requirements-dev.lock", "pytest==")):
        text = (ROOT / name).read_text()
        pins = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
        assert any(line.startswith(must) for line in pins), name
        assert text.count("--hash=sha256:") >= len(pins)
    runtime = (ROOT / "requirements.lock").read_text()
    assert "\npytest==" not in runtime and "\nplaywright==" not in runtime
