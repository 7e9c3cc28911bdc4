"""axe-core finds no serious or critical accessibility violation on the registry's pages for people.

axe-core is vendored for the tests (tests/data/vendor/axe-core, ORIGIN.md there)
and injected through DevTools, so the pages themselves load nothing extra and
nothing leaves loopback. The SPARQL workbench is checked by its own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_browse_browser import base_url, browser, evaluate, wait_for_load  # noqa: F401 (fixtures)
from test_pages_browser import problems

NCT = "NCT02034981"
AXE = Path(__file__).resolve().parent / "data" / "vendor" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.browser


def violations(browser) -> list[str]:  # noqa: F811
    """Serious and critical violations of the page in the tab: rule, impact, and the first offending nodes."""
    browser.call("Runtime.evaluate", {"expression": AXE.read_text(encoding="utf-8")}, session=True)
    reply = browser.call("Runtime.evaluate", {
        "expression": "axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations.map("
                      "v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))",
        "awaitPromise": True, "returnByValue": True}, session=True)
    found = json.loads(reply["result"]["value"])
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", ["/", "/search?cond=NSCLC&gene=MET", "/search?cond=MCL", "/match",
                                  f"/match?trial={NCT}", f"/study/{NCT}", f"/study/{NCT}/cohort/5"])
def test_no_serious_or_critical_violation(browser, base_url, path):  # noqa: F811
    assert problems(browser.open(base_url + path)) == []
    assert violations(browser) == []


def test_no_serious_or_critical_violation_on_the_match_answer(browser, base_url):  # noqa: F811
    assert problems(browser.open(f"{base_url}/match")) == []
    evaluate(browser, """(() => {
      const set = (sel, v) => { document.querySelector(sel).value = v; };
      set('#f-age_years', '63'); set('#f-diagnosis', 'LUAD');
      set("[name='alterations.0.gene']", 'MET'); set("[name='alterations.0.type']", 'amplification');
    })()""")
    assert problems(wait_for_load(browser, "document.querySelector('#profile-form button[type=submit]').click()")) == []
    assert evaluate(browser, f"!!document.getElementById('answer-{NCT}-5')")
    assert violations(browser) == []


def test_the_check_can_fail(browser, tmp_path):  # noqa: F811
    """A page with an image without text and an unlabelled field is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html lang="en"><head><title>bad</title></head><body><main>'
                   '<img src="data:,"><form><input type="text"></form></main></body></html>', encoding="utf-8")
    browser.open(bad.as_uri())
    found = violations(browser)
    assert any(v.startswith("image-alt") for v in found) and any(v.startswith("label") for v in found), found
