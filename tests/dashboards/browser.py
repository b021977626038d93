"""Headless Chromium without a driver: load a file URL, take a screenshot and dump the DOM after scripts ran."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
    "--virtual-time-budget=10000",
]


@dataclass
class Rendered:
    dom: str
    console: list[str]  # every console line the page produced
    screenshot: Path

    @property
    def page_errors(self) -> str | None:
        match = re.search(r'<html[^>]*data-errors="([^"]*)"', self.dom)
        return match.group(1) if match else None


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    return path


def render(url: str, screenshot: Path, size: str = "1400,1800") -> Rendered:
    with tempfile.TemporaryDirectory(prefix="mmh-chromium-") as profile:
        proc = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--screenshot={screenshot}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": profile},
        )
    if proc.returncode != 0:
        pytest.fail(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(proc.stdout, console, screenshot)
