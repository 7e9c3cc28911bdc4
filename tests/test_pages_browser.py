"""The study page in headless Chromium: no console error, no failed request, and a screenshot to look at.

Chromium is driven over the DevTools protocol (one websocket, no extra
package): console calls, uncaught exceptions, log entries (where Chromium
reports failed loads) and HTTP errors of every request are collected while the
page loads from the app served by uvicorn on loopback.
Set ACSE_KG_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from conftest import require
from fastapi import FastAPI

from acse_kg.api import linked_data, pages

CHROMIUM = "/usr/bin/chromium"
NCT = "NCT02034981"

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    require(Path(CHROMIUM).exists(), CHROMIUM)


# ------------------------------------------------------------------ server
@pytest.fixture(scope="module")
def base_url(store) -> Iterator[str]:
    app = FastAPI()
    app.state.store = store
    app.include_router(pages.router)
    app.include_router(linked_data.router)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


# ------------------------------------------------------------------ browser
class Browser:
    """Headless Chromium and one DevTools session on one tab."""

    def __init__(self, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--window-size=1280,1600", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.devtools_url = self._devtools_url()
        self.ids = itertools.count(1)

    def attach(self, ws: Any) -> None:
        """Open a tab on the DevTools websocket ``ws`` and enable the domains whose events we check."""
        self.ws = ws
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + 30
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained
                return m.group(1)
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("Chromium did not open its DevTools endpoint")

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False,
             events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        ident = next(self.ids)
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None and "method" in reply:
                events.append(reply)

    def open(self, url: str) -> list[dict[str, Any]]:
        """Navigate and wait for the load event (plus a short settle); return every event seen."""
        events: list[dict[str, Any]] = []
        self.call("Page.navigate", {"url": url}, session=True, events=events)
        deadline = time.monotonic() + 30
        loaded_at: float | None = None
        while time.monotonic() < deadline:
            if loaded_at is not None and time.monotonic() - loaded_at > 0.5:
                break
            try:
                ev = json.loads(self.ws.recv(timeout=0.2))
            except TimeoutError:
                continue
            if "method" in ev:
                events.append(ev)
                if ev["method"] == "Page.loadEventFired":
                    loaded_at = time.monotonic()
        assert loaded_at is not None, f"{url} did not finish loading"
        return events

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page, not just the window."""
        metrics = self.call("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                         session=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, error log entries and failed or HTTP-error requests."""
    out: list[str] = []
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in events if e["method"] == "Network.requestWillBeSent"}
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"request failed: {p.get('errorText')} {urls.get(p.get('requestId'), '')}")
        elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
            out.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    from websockets.sync.client import connect

    _require_chromium()
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        with connect(b.devtools_url, max_size=None, open_timeout=20) as ws:
            b.attach(ws)
            yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    keep = os.environ.get("ACSE_KG_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("screenshots")


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("path, name", [(f"/study/{NCT}", "study.png"), (f"/study/{NCT}/cohort/5", "cohort-5.png"),
                                        (f"/study/{NCT}/cohort/21", "cohort-21.png"), ("/", "index.png")])
def test_page_loads_in_chromium_without_console_errors(browser, base_url, shots, path, name):
    events = browser.open(base_url + path)
    assert problems(events) == []
    styles = [e for e in events if e["method"] == "Network.responseReceived" and e["params"]["type"] == "Stylesheet"]
    assert [e["params"]["response"]["status"] for e in styles] == [200]  # the stylesheet loaded
    browser.screenshot(shots / name)
    png = (shots / name).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > (50_000 if path != "/" else 5_000)


def test_key_value_tables_look_alike(browser, base_url):
    """Ages Eligible reads like Sexes Eligible, and the sponsor block like the key dates: one font, size and colour
    for every row header, and one for every value, across the study page's key-value tables."""
    assert problems(browser.open(f"{base_url}/study/{NCT}")) == []
    script = """JSON.stringify(['th', 'td'].map(tag => [...new Set(
      [...document.querySelectorAll('#sponsors, #dates, #design, #eligibility, #more')]
        .flatMap(s => [...s.querySelectorAll('table.kv > tbody > tr > ' + tag)])
        .map(e => { const c = getComputedStyle(e); return [c.fontSize, c.fontWeight, c.color, c.fontFamily].join('|'); })
    )]))"""
    th, td = json.loads(browser.call("Runtime.evaluate", {"expression": script, "returnByValue": True},
                                     session=True)["result"]["value"])
    assert len(th) == 1 and len(td) == 1, (th, td)
    sections = "#sponsors table.kv, #eligibility td.ages"
    found = browser.call("Runtime.evaluate", {"expression": f"document.querySelectorAll('{sections}').length",
                                              "returnByValue": True}, session=True)["result"]["value"]
    assert found == 2  # the sponsor block is a key-value table and the ages row is in one


def test_the_error_detector_catches_a_console_error_and_a_missing_asset(browser, base_url, tmp_path):
    """The check above can fail: a page with console.error and a stylesheet that 404s is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>bad</title>'
        f'<link rel="stylesheet" href="{base_url}/static/missing.css"></head>'
        '<body><script>console.error("deliberate")</script></body></html>',
        encoding="utf-8",
    )
    found = problems(browser.open(bad.as_uri()))
    assert any("deliberate" in p for p in found), found
    assert any("missing.css" in p for p in found), found
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_printed_page_hides_navigation_and_iri_badges_but_keeps_the_record(browser, base_url):
    browser.call("Emulation.setEmulatedMedia", {"media": "print"}, session=True)
    try:
        assert problems(browser.open(f"{base_url}/study/{NCT}")) == []
        script = """JSON.stringify({
          iri: [...document.querySelectorAll('a.iri')].map(e => e.getClientRects().length ? 'shown' : 'none'),
          nav: [...document.querySelectorAll('nav')].map(e => e.getClientRects().length ? 'shown' : 'none'),
          rows: [...document.querySelectorAll('tr.cohort-row')].filter(e => getComputedStyle(e).display !== 'none').length,
          bullets: [...document.querySelectorAll('#eligibility li.criterion')].filter(e => e.offsetHeight > 0).length
        })"""
        seen = json.loads(browser.call("Runtime.evaluate", {"expression": script, "returnByValue": True},
                                       session=True)["result"]["value"])
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""}, session=True)
    assert seen["iri"] and set(seen["iri"]) == {"none"}
    assert set(seen["nav"]) == {"none"}
    assert seen["rows"] == 23
    assert seen["bullets"] > 20
