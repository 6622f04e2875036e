"""The auditor console in headless Chromium: sign in, filter, open a verified proof, download the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, browser_missing
from tests.integration.server import GatewayProcess

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]


@pytest.fixture(scope="module")
def page(console_gateway: GatewayProcess) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def test_when_an_auditor_uses_the_console_then_filters_proofs_and_reports_work_end_to_end(
    console_gateway: GatewayProcess, page: Any, tmp_path: Path
) -> None:
    gw = console_gateway
    writer = gw.make_key("acme", "alice", "writer")
    headers = {"Authorization": f"Bearer {writer}"}
    ok = httpx.post(gw.url + "/v1/embeddings", headers=headers, timeout=60,
                    json={"model": "all-MiniLM-L6-v2", "input": "Renewal notice for the fleet policy"})
    denied = httpx.get(gw.url + "/v1/audit/entries", headers=headers)
    assert ok.status_code == 200 and denied.status_code == 403
    auditor = gw.make_key("acme", "olga", "auditor")

    page.goto(gw.url + "/console")
    page.fill("input[name=api_key]", auditor)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/entries")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and auditor not in cookie["value"]

    page.select_option("select[name=event]", "authz.denied")
    page.select_option("select[name=decision]", "deny")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/console/entries?*event=authz.denied*")
    rows = page.locator("#entries tbody tr")
    assert rows.count() >= 1
    assert all("authz.denied" in rows.nth(i).inner_text() for i in range(rows.count()))

    denied_index = denied.headers["X-Gateway-Audit-Index"]
    page.click(f"#entries a[href='/console/entries/{denied_index}']")
    page.wait_for_url(f"**/console/entries/{denied_index}")
    status = page.locator("#status")
    assert "verified" in status.inner_text() and "NOT" not in status.inner_text()
    assert status.get_attribute("class") == "verified"

    with page.expect_download() as info:
        page.click("text=Report (HTML)")
    html = tmp_path / "report.html"
    info.value.save_as(html)
    assert info.value.suggested_filename == "nist-ai-rmf-report.html" and "NIST AI RMF" in html.read_text()
    with page.expect_download() as info:
        page.click("text=Report (JSON)")
    report_json = tmp_path / "report.json"
    info.value.save_as(report_json)
    assert json.loads(report_json.read_text())["verification"]["status"] == "verified"

    page.click("text=Sign out")
    page.wait_for_url("**/console")
    assert page.locator("input[name=api_key]").count() == 1
    assert page.goto(gw.url + "/console/entries").status == 401


def test_when_a_writer_signs_in_to_the_console_then_the_browser_shows_403(
    console_gateway: GatewayProcess, page: Any
) -> None:
    page.goto(console_gateway.url + "/console")
    page.fill("input[name=api_key]", console_gateway.make_key("acme", "bob", "writer"))
    with page.expect_response("**/console/signin") as response:
        page.click("button[type=submit]")
    assert response.value.status == 403
    assert "cannot open the audit console" in page.content()
