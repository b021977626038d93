"""Make Great Expectations Data Docs work offline.

GE's pages load jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega from public CDNs and fetch the GE logo
from an S3 bucket with the data context id in the query string. In a health-data environment without internet
access the pages stay blank (their tables are drawn by bootstrap-table) and every load reports errors; with
internet access the logo request tells a third party each time someone opens the docs. This rewrites every page
to use two small local files (`static/mmhealth/offline.js`, `offline.css`, shipped in this package) that render
the same tables, tabs and toggles, and points the logo at the copy GE already ships in `static/images/`.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

MARKER = "<!-- mmhealth: offline data docs -->"
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*', re.IGNORECASE)
_EXTERNAL_IMG = re.compile(r'(<img[^>]*\bsrc=")https?://[^"]*logo[^"]*(")', re.IGNORECASE)
# GE writes some `static/` references with the wrong depth on nested pages (e.g. the favicon of a validation page).
_LOCAL_STATIC = re.compile(r'((?:href|src)=")(?:\./|(?:\.\./)+)?static/')
_ANY_EXTERNAL_LOAD = re.compile(r'<(?:script|img|link|iframe)[^>]*\b(?:src|href)="https?://', re.IGNORECASE)


def _asset(name: str) -> str:
    return resources.files("mmhealth.quality").joinpath("assets", name).read_text()


def rewrite_page(html: str, prefix: str) -> str:
    """One page, `prefix` being the relative path from the page's folder to the site root ('' or '../..')."""
    if MARKER in html:
        return html
    root = f"{prefix}/" if prefix else ""
    local = (
        f'{MARKER}\n<link rel="stylesheet" href="{root}static/mmhealth/offline.css">\n'
        f'<script src="{root}static/mmhealth/offline.js"></script>\n'
    )
    first = _EXTERNAL_SCRIPT.search(html)
    html = _EXTERNAL_LINK.sub("", html)
    if first is None:
        html = html.replace("</head>", local + "</head>", 1)
    else:
        # The local script goes where jQuery was: before the inline scripts that call `$`.
        html = _EXTERNAL_SCRIPT.sub("", html)
        head_end = html.find("</head>")
        html = html[:head_end] + local + html[head_end:] if head_end >= 0 else local + html
    html = _LOCAL_STATIC.sub(lambda m: f"{m.group(1)}{root}static/", html)
    html = _EXTERNAL_IMG.sub(lambda m: f"{m.group(1)}{root}static/images/logo-long.png{m.group(2)}", html)
    return html


def make_offline(site: Path) -> int:
    """Rewrite every page of a Data Docs site in place; returns the number of pages rewritten."""
    static = site / "static" / "mmhealth"
    static.mkdir(parents=True, exist_ok=True)
    for name in ("offline.js", "offline.css"):
        (static / name).write_text(_asset(name))
    count = 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        if MARKER in html:
            continue
        prefix = os.path.relpath(site, page.parent).replace(os.sep, "/")
        page.write_text(rewrite_page(html, "" if prefix == "." else prefix), encoding="utf-8")
        count += 1
    return count


def external_loads(html: str) -> list[str]:
    """Remaining tags that would load something from the network (the tests assert there are none)."""
    return [m.group(0) for m in _ANY_EXTERNAL_LOAD.finditer(html)]


def copy_site(site: Path, dest: Path) -> Path:
    shutil.copytree(site, dest, dirs_exist_ok=True)
    return dest / "index.html"
