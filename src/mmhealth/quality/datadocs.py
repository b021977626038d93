"""Make Great Expectations Data Docs work offline.

GE's pages load jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega from public CDNs and fetch the GE logo
from an S3 bucket with the data context id in the query string. In a health-data environment without internet
access the pages stay blank (their tables are drawn by bootstrap-table) and every load reports errors; with
internet access the logo request tells a third party each time someone opens the docs. This rewrites every page
to use two small local files (`static/mmhealth/offline.js`, `offline.css`, shipped in this package) that render
the same tables, tabs and toggles, and points the logo at the copy GE already ships in `static/images/`.

Two more fixes of GE 1.24's pages: the footer (a newsletter sign-up linking to greatexpectations.io) is removed - a
report on health data carries no third-party call to action - and validation pages name their data asset: GE reads
the name from a field of pre-1.0 batch specs and prints "Data asset: None"; the asset is in the page's file name
(`<datasource>-<asset>.html`). The project's plugin stylesheet hides that footer when plain GE builds the site.
"""

from __future__ import annotations

import os
import re
import shutil
from html import escape
from importlib import resources
from pathlib import Path

MARKER = "<!-- mmhealth: offline data docs -->"
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*', re.IGNORECASE)
_EXTERNAL_IMG = re.compile(r'(<img[^>]*\bsrc=")https?://[^"]*logo[^"]*(")', re.IGNORECASE)
# GE writes some `static/` references with the wrong depth on nested pages (e.g. the favicon of a validation page).
_LOCAL_STATIC = re.compile(r'((?:href|src)=")(?:\./|(?:\.\./)+)?static/')
_ANY_EXTERNAL_LOAD = re.compile(r'<(?:script|img|link|iframe)[^>]*\b(?:src|href)="https?://', re.IGNORECASE)
_FOOTER = re.compile(r"<footer>(?:(?!</footer>).)*greatexpectations\.io(?:(?!</footer>).)*</footer>\s*",
                     re.IGNORECASE | re.DOTALL)
_NO_ASSET = "Data asset: None"
_CREDIT_LINK = re.compile(r'<a href="https?://greatexpectations\.io/?">(Great Expectations)</a>')


def _asset(name: str) -> str:
    return resources.files("mmhealth.quality").joinpath("assets", name).read_text()


def rewrite_page(html: str, prefix: str, asset: str | None = None) -> str:
    """One page, `prefix` being the relative path from the page's folder to the site root ('' or '../..'), `asset`
    the data asset a validation page is about."""
    if MARKER in html:
        return html
    html = _FOOTER.sub("", html)
    html = _CREDIT_LINK.sub(r"\1", html)  # the credit stays, as text
    if asset:
        html = html.replace(_NO_ASSET, f"Data asset: {escape(asset)}")
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
        asset = page.stem.split("-", 1)[1] if page.relative_to(site).parts[0] == "validations" and "-" in page.stem \
            else None
        page.write_text(rewrite_page(html, "" if prefix == "." else prefix, asset), encoding="utf-8")
        count += 1
    return count


def third_party_links(html: str) -> list[str]:
    """Links to greatexpectations.io left in a page (the tests assert there are none)."""
    return re.findall(r'href="https?://(?:www\.)?greatexpectations\.io[^"]*"', html)


def external_loads(html: str) -> list[str]:
    """Remaining tags that would load something from the network (the tests assert there are none)."""
    return [m.group(0) for m in _ANY_EXTERNAL_LOAD.finditer(html)]


def copy_site(site: Path, dest: Path) -> Path:
    shutil.copytree(site, dest, dirs_exist_ok=True)
    return dest / "index.html"
