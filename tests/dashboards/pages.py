"""A dashboard page as headless Chromium leaves it: the DOM after its scripts drew the visuals, everything the page
said (console, uncaught exceptions, failed loads) and a screenshot. Built on the shared DevTools helper."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import chromium_path, open_page


@dataclass
class Rendered:
    dom: str
    console: list[str]  # everything the page said (PageReport.messages)
    screenshot: Path

    @property
    def page_errors(self) -> str | None:
        """The page's own error trap (<html data-errors>, src/mmhealth/dashboards/local.py) as JSON text."""
        match = re.search(r'<html[^>]*data-errors="([^"]*)"', self.dom)
        return match.group(1) if match else None


def render(url: str, screenshot: Path, width: int = 1400, height: int = 1800) -> Rendered:
    if chromium_path() is None:
        pytest.fail("Debian chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    # The renderer flags <body data-rendered> once every visual is drawn; the DOM is read after that.
    report = open_page(url, screenshot=screenshot, evaluate="document.documentElement.outerHTML",
                       wait_until="document.body && document.body.dataset.rendered === 'true'",
                       width=width, height=height)
    return Rendered(report.value, report.messages, screenshot)
