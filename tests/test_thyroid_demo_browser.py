"""The /demo page in a real headless Chromium (Debian's chromium + chromium-driver, Selenium).

The server under test is the real waitress on a free loopback port (a child process), with a
temporary SQLite ``FEEDBACK_DB`` and ``EVALUATION_DATE`` pinned to the samples' date.
Screenshots are saved to ``test-artifacts/`` (git-ignored). Skipped, with the reason, when
Chromium is not installed (``bash scripts/install-browser.sh``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from conftest import REPO_DIR, http

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO_DIR / "test-artifacts"
SAMPLES = REPO_DIR / "fhir_samples" / "thyroid"
SAMPLE_DATE = "2026-11-27"
# RAIR YES (JS-ii), recent PD, first line: the I-131 order check applies
REFRACTORY = "js-ii-post-therapy-no-uptake"
WAIT_SECONDS = 20


@pytest.fixture
def browser(tmp_path):
    """A fresh headless Chromium with its own profile; quit after the test."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"browser test needs Debian chromium and chromium-driver; missing: "
                    f"{', '.join(missing)} (install: bash scripts/install-browser.sh)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1440,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


# The server runs in a child process: stopping an in-process waitress from another thread races
# with its select() loop (EBADF) while the browser still holds keep-alive connections.
SERVER_SCRIPT = """
import sys
from cds_hooks import create_app
from cds_hooks.server import create_server

app = create_app({"TESTING": True, "PLUGINS": ["plugin.thyroid"], "AUTH_MODE": "off",
                  "FEEDBACK_DB": sys.argv[1], "EVALUATION_DATE": sys.argv[2]})
server = create_server(app, host="127.0.0.1", port=0, threads=4)
print(server.effective_port, flush=True)
server.run()
"""


@pytest.fixture
def demo_server(tmp_path):
    """``(base_url, feedback_db_path)``: real waitress on a free loopback port, in a child
    process, with a temporary SQLite ``FEEDBACK_DB`` and the samples' evaluation date."""
    db = tmp_path / "demo-feedback.sqlite3"
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(db), SAMPLE_DATE],
        cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            proc.wait(timeout=10)
            log.flush()
            pytest.fail("demo server did not start:\n"
                        + (tmp_path / "server.log").read_text(encoding="utf-8"))
        yield f"http://127.0.0.1:{port}", db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        log.close()


def _wait(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(condition, message=message)


def _shot(driver, name):
    ARTIFACTS.mkdir(exist_ok=True)
    # the whole page, not only the window: resize to the document height first
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(1000, min(int(height) + 40, 4000)))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _feedback_rows(db, card_uuid):
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM feedback WHERE card = ?", (card_uuid,))
        return [dict(r) for r in rows]


def _open_patient(driver, base, name):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{base}/demo/")
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"),
          "the page did not load the sample list and discovery")
    Select(driver.find_element(By.ID, "patient-select")).select_by_value(name)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#cards article.card")
          or d.find_elements(By.CSS_SELECTOR, "#cards .no-cards"),
          f"no patient-view cards rendered for {name}: "
          + driver.find_element(By.ID, "status").text)


def _displayed_cards(driver, container="#cards"):
    from selenium.webdriver.common.by import By

    return [
        {
            "uuid": el.get_attribute("data-card-uuid"),
            "indicator": el.get_attribute("data-indicator"),
            "summary": el.find_element(By.CSS_SELECTOR, ".card-summary").text,
            "element": el,
        }
        for el in driver.find_elements(By.CSS_SELECTOR, f"{container} article.card")
    ]


def _service_cards(base, name):
    """The cards the service gives for the scenario's own patient-view request."""
    request = json.loads((SAMPLES / f"patient-view.{name}.json").read_text(encoding="utf-8"))
    status, _, body = http("POST", f"{base}/cds-services/rair-patient-view", body=request)
    assert status == 200, body
    return body


def test_patient_view_cards_render_like_an_ehr(demo_server, browser):
    base, _ = demo_server
    _open_patient(browser, base, REFRACTORY)
    from selenium.webdriver.common.by import By

    shown = _displayed_cards(browser)
    expected = _service_cards(base, REFRACTORY)
    assert sorted((c["summary"], c["indicator"]) for c in shown) == sorted(
        (c["summary"], c["indicator"]) for c in expected["cards"]
    )
    # the status card names RAIR by JS-ii (with its next step); the molecular-testing card
    # carries the action, as a warning
    assert any(c["summary"].startswith("RAIR (JS-ii)") for c in shown), shown
    assert any(c["indicator"] == "warning" for c in shown), shown
    assessment = expected["extension"]["rair-cds"]["assessment"]
    assert assessment["rairStatus"] == "YES"
    strip = browser.find_element(By.ID, "assessment").text
    assert "YES" in strip and assessment["progression"] in strip
    # every card: an indicator icon with a text label, a source, a real dismiss button
    for card in shown:
        el = card["element"]
        assert el.find_element(By.CSS_SELECTOR, ".ind").get_attribute("aria-label") in (
            "Info", "Warning", "Critical")
        assert el.find_element(By.CSS_SELECTOR, ".card-source").text.startswith("Source:")
        assert el.find_element(By.CSS_SELECTOR, "button.dismiss").tag_name == "button"
    # record summary and timeline
    record = browser.find_element(By.ID, "record").text
    assert "Radioiodine history" in record and "Cumulative therapeutic activity" in record
    # the threshold comes from the summary (thresholds.yaml), formatted by the page
    assert "the 22,200 MBq (600 mCi) JS-v threshold" in record
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline svg .sum-pd"), "no PD point drawn"
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline svg .threshold")
    _shot(browser, "demo-1-patient-view")


def test_i131_order_warning_accept_delete_and_feedback_is_stored(demo_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, db = demo_server
    _open_patient(browser, base, REFRACTORY)
    Select(browser.find_element(By.ID, "order-preset")).select_by_value("i131")
    browser.find_element(By.ID, "add-order").click()
    drafts = browser.find_elements(By.CSS_SELECTOR, "#draft-orders li.draft")
    assert len(drafts) == 1
    draft_ref = drafts[0].get_attribute("data-resource-id")
    assert draft_ref.startswith("MedicationRequest/")

    def delete_card(d):
        for card in _displayed_cards(d, "#order-cards"):
            for suggestion in _received(d, card["uuid"]).get("suggestions", []):
                if any(a["type"] == "delete" for a in suggestion.get("actions", [])):
                    return card, suggestion
        return None

    card, suggestion = _wait(browser, delete_card, "no order-select card with a delete "
                             "suggestion: " + browser.find_element(By.ID, "status").text)
    assert card["indicator"] == "warning"
    assert "I-131" in card["summary"]
    deletes = [a for a in suggestion["actions"] if a["type"] == "delete"]
    assert deletes[0]["resourceId"] in (draft_ref, [draft_ref])
    _shot(browser, "demo-2-i131-warning")

    suggestion_uuid = suggestion["uuid"]
    card["element"].find_element(
        By.CSS_SELECTOR, f'button.suggestion[data-suggestion-uuid="{suggestion_uuid}"]').click()
    _wait(browser, lambda d: card["element"].get_attribute("data-feedback") == "accepted",
          "accepted feedback was not sent: " + browser.find_element(By.ID, "status").text)
    assert not browser.find_elements(By.CSS_SELECTOR, "#draft-orders li.draft"), "draft not removed"
    assert "Accepted" in card["element"].find_element(By.CSS_SELECTOR, ".card-outcome").text

    rows = _feedback_rows(db, card["uuid"])
    assert len(rows) == 1
    assert rows[0]["outcome"] == "accepted"
    assert rows[0]["service_id"] == "rair-order-select"
    assert json.loads(rows[0]["accepted_suggestions"]) == [suggestion_uuid]
    _shot(browser, "demo-3-accepted")


def test_dismissing_a_card_stores_the_override_reason(demo_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, db = demo_server
    _open_patient(browser, base, REFRACTORY)
    shown = _displayed_cards(browser)
    assert shown
    # a card that offers override reasons (any card when none does)
    card = next((c for c in shown if expected_reasons(browser, c["uuid"])), shown[0])
    reasons = expected_reasons(browser, card["uuid"])

    card["element"].find_element(By.CSS_SELECTOR, "button.dismiss").click()
    dialog = browser.find_element(By.ID, "override-dialog")
    _wait(browser, lambda d: dialog.get_attribute("open") is not None, "override dialog not open")
    assert browser.switch_to.active_element.get_attribute("id") == "override-reason"
    if reasons:
        Select(browser.find_element(By.ID, "override-reason")).select_by_index(0)
    browser.find_element(By.ID, "override-comment").send_keys("Discussed at tumour board")
    _shot(browser, "demo-4-override-dialog")
    browser.find_element(By.ID, "override-submit").click()
    _wait(browser, lambda d: card["element"].get_attribute("data-feedback") == "overridden",
          "override feedback was not sent: " + browser.find_element(By.ID, "status").text)

    rows = _feedback_rows(db, card["uuid"])
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "overridden"
    assert row["service_id"] == "rair-patient-view"
    assert row["user_comment"] == "Discussed at tumour board"
    if reasons:
        assert (row["override_system"], row["override_code"]) == (
            reasons[0].get("system"), reasons[0]["code"])
    assert "Dismissed" in card["element"].find_element(By.CSS_SELECTOR, ".card-outcome").text
    _shot(browser, "demo-5-dismissed")


def _received(driver, card_uuid):
    """The card as the page received it from the service."""
    return driver.execute_script(
        "var e = window.rairDemo.state.cards[arguments[0]]; return e ? e.card : {};", card_uuid)


def expected_reasons(driver, card_uuid):
    """The card's overrideReasons as the page received them."""
    return _received(driver, card_uuid).get("overrideReasons", [])


def test_markdown_renderer_is_safe(demo_server, browser):
    base, _ = demo_server
    browser.get(f"{base}/demo/")
    render = "return window.rairDemo.renderMarkdown(arguments[0]);"
    html = browser.execute_script(
        render, '<img src=x onerror=alert(1)> **bold** and *it* [ok](https://example.org/a?b=1&c=2)'
        ' [bad](javascript:alert(1))\n\n- one\n- two "quoted"')
    assert "<img" not in html and "&lt;img" in html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2"' in html
    assert 'href="javascript' not in html
    assert "<ul><li>one</li><li>two &quot;quoted&quot;</li></ul>" in html
