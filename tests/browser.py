"""Open a page in headless Chromium and report its console messages, uncaught exceptions, browser log errors and a
screenshot; optionally wait for a condition and evaluate an expression (the DOM after the page's scripts ran, its
text, a count).

Shared by every area's tests (the root conftest puts tests/ on sys.path). It speaks the Chrome DevTools Protocol
over a WebSocket on 127.0.0.1 with a small stdlib client (no websocket package is installed), so console messages
are captured exactly as DevTools sees them rather than scraped from Chromium's log.

    from browser import chromium_path, open_page
    report = open_page(Path("index.html"), screenshot=tmp_path / "shot.png", evaluate="document.title")
    assert report.errors == []
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    url: str
    console: list[dict] = field(default_factory=list)      # every console message: {level, text}
    exceptions: list[str] = field(default_factory=list)    # uncaught JS exceptions
    log_errors: list[str] = field(default_factory=list)    # browser log errors (failed loads, CSP, ...)
    value: object = None                                   # result of `evaluate`, if given
    screenshot: Path | None = None

    @property
    def messages(self) -> list[str]:
        """Everything the page said: console messages of any level, uncaught exceptions, browser log errors."""
        return self._lines(lambda level: True)

    @property
    def errors(self) -> list[str]:
        return self._lines(lambda level: level in ("error", "assert"))

    def _lines(self, keep) -> list[str]:
        return ([f"console.{c['level']}: {c['text']}" for c in self.console if keep(c["level"])]
                + [f"exception: {e}" for e in self.exceptions] + [f"log: {e}" for e in self.log_errors])


class _WebSocket:
    """Just enough RFC 6455 for CDP: text frames, client masking, fragmented and long server frames."""

    def __init__(self, url: str, timeout: float):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return buf

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by peer")
            if opcode in (0x9, 0xA):  # ping/pong: CDP does not need answers for our short sessions
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _Cdp:
    def __init__(self, ws: _WebSocket):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if any(e["method"] == method for e in self.events):
            return True
        self.ws.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    msg = json.loads(self.ws.recv())
                except (socket.timeout, TimeoutError):
                    continue
                if "method" in msg:
                    self.events.append(msg)
                    if msg["method"] == method:
                        return True
            return False
        finally:
            self.ws.sock.settimeout(None)

    def drain(self, seconds: float) -> None:
        self.wait_for("__never__", seconds)


def _evaluate(cdp: _Cdp, expression: str):
    return cdp.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")


def _poll(cdp: _Cdp, expression: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if _evaluate(cdp, expression):
            return True
        cdp.drain(0.05)
    return False


def _collect(events: list[dict], report: PageReport) -> PageReport:
    """What the page said, from the DevTools events received so far."""
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            report.console.append({"level": p.get("type"), "text": text})
        elif e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            report.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            report.log_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
    return report


def open_page(target: Path | str, *, screenshot: Path | None = None, evaluate: str | None = None,
              wait_until: str | None = None, width: int = 1280, height: int = 900, timeout: float = 30.0,
              settle: float = 0.5) -> PageReport:
    """Load `target` (a file path or URL) in a fresh headless Chromium profile and report what happened.

    `wait_until`, a JavaScript expression, is polled after the load event until it is truthy (a page that draws
    after loading sets a flag); `evaluate` runs once the page has settled, and its value is returned by value."""
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("chromium not installed - apt-get install chromium")
    url = target.resolve().as_uri() if isinstance(target, Path) else str(target)
    profile = Path(tempfile.mkdtemp(prefix="mmh-chromium-"))
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so a hung browser is ended with all its helpers
    )
    ws = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as resp:
            pages = [t for t in json.load(resp) if t.get("type") == "page"]
        ws = _WebSocket(pages[0]["webSocketDebuggerUrl"], timeout)
        cdp = _Cdp(ws)
        for domain in ("Runtime", "Log", "Page"):
            cdp.call(f"{domain}.enable")
        cdp.events.clear()
        cdp.call("Page.navigate", url=url)
        if not cdp.wait_for("Page.loadEventFired", timeout):
            raise TimeoutError(f"{url}: load event not fired within {timeout}s")
        if wait_until and not _poll(cdp, wait_until, deadline=time.monotonic() + timeout):
            raise TimeoutError(f"{url}: `{wait_until}` still false after {timeout}s; the page said: "
                               f"{_collect(cdp.events, PageReport(url)).errors}")
        cdp.drain(settle)
        report = _collect(cdp.events, PageReport(url))
        if evaluate:
            report.value = _evaluate(cdp, evaluate)
        if screenshot is not None:
            shot = cdp.call("Page.captureScreenshot", format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            report.screenshot = screenshot
        try:
            cdp.call("Browser.close")
        except (ConnectionError, OSError, RuntimeError):
            pass
        return report
    finally:
        if ws is not None:
            ws.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
