"""The projection page in headless Chromium: sign in, open a collection, see one circle per vector and no text."""

from __future__ import annotations

from collections.abc import Iterator
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
DOCS = 24


@pytest.fixture(scope="module")
def page(console_gateway: GatewayProcess) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def test_when_an_auditor_opens_a_collections_projection_then_the_svg_has_a_circle_per_vector(
    console_gateway: GatewayProcess, page: Any
) -> None:
    gw = console_gateway
    writer = gw.make_key("acme", "ingest", "writer")
    headers = {"Authorization": f"Bearer {writer}"}
    r = httpx.post(gw.url + "/v1/collections", headers=headers, json={"name": "claims", "model": "all-MiniLM-L6-v2"})
    assert r.status_code == 201, r.text
    topics = ("flooded basement", "stolen bicycle", "windscreen crack")
    docs = [{"id": f"c{i}", "text": f"Claim {i}: the policyholder reports a {topics[i % 3]}."} for i in range(DOCS)]
    r = httpx.post(gw.url + "/v1/collections/claims/documents", headers=headers, json={"documents": docs}, timeout=120)
    assert r.status_code == 200 and all(x["status"] == "stored" for x in r.json()["results"]), r.text

    page.goto(gw.url + "/console")
    page.fill("input[name=api_key]", gw.make_key("acme", "olga", "auditor"))
    page.click("button[type=submit]")
    page.wait_for_url("**/console/entries")
    page.goto(gw.url + "/console/collections")
    page.click("#collections a[href='/console/collections/claims/projection']")
    page.wait_for_url("**/console/collections/claims/projection")

    svg = page.locator("svg#projection")
    assert svg.is_visible() and svg.bounding_box()["width"] > 100  # rendered, not just present in the markup
    assert page.locator("svg#projection circle").count() == DOCS
    assert page.locator("svg#projection text").count() == 0
    assert page.locator("#legend li").count() == 5
    fills = {page.locator("svg#projection circle").nth(i).get_attribute("fill") for i in range(DOCS)}
    assert len(fills) == 5  # coloured by window
    body = page.locator("body").inner_text()
    assert "policyholder" not in body and "c1" not in body.split()  # no text, no document ids
    assert page.locator("#drift-empty, svg.drift").count() >= 1  # the drift section rendered (series or why not)
