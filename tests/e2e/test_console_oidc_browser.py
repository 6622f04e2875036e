"""The console's sign-in through the identity provider in headless Chromium: the provider's own page (on another
site: ``localhost`` against the gateway's ``127.0.0.1``), the PKCE code flow, and the entries of the auditor's
tenant only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, browser_missing
from tests.integration.server import GatewayProcess, serving
from tests.oidc_provider import Provider, running_provider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or ""),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def oidc_gateway(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[GatewayProcess]:
    root = Path(tmp_path_factory.mktemp("oidc-console-gateway"))
    secret = root / "console-client-secret"
    secret.write_text("s3cret-of-the-console\n")
    env = {"GATEWAY_OIDC_DISCOVERY": provider.discovery, "GATEWAY_OIDC_AUDIENCE": "embedding-gateway",
           "GATEWAY_OIDC_CONSOLE_CLIENT_ID": "audit-console",
           "GATEWAY_OIDC_CONSOLE_CLIENT_SECRET_FILE": str(secret)}

    def groups(policy_dir: Path) -> None:
        with (policy_dir / "policy.csv").open("a") as fh:
            fh.write("g, idp:compliance, auditor, acme\n")

    with serving(root, env=env, edit_policy=groups) as proc:
        yield proc


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())  # the provider's stylesheet
        yield context.new_page()
        context.close()
        browser.close()


def test_when_an_auditor_signs_in_through_the_provider_then_the_console_shows_its_tenant_only(
    oidc_gateway: GatewayProcess, provider: Provider, page: Any
) -> None:
    gw = oidc_gateway
    for tenant, subject in (("acme", "alice"), ("globex", "gina")):
        key = gw.make_key(tenant, subject, "writer")
        r = httpx.get(gw.url + "/v1/collections", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200
    provider.user("olga", {"tenant": "acme", "roles": ["idp:compliance"]})

    page.goto(gw.url + "/console")
    page.click("#oidc-signin")
    page.wait_for_url(provider.url + "/oauth2/authorize?*")
    page.fill("input[name=sub]", "olga")
    page.click("button:text-is('Authorize')")
    page.wait_for_url("**/console/entries")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["gw_console"]["httpOnly"] and cookies["gw_console"]["sameSite"] == "Strict"
    assert "gw_console_login" not in cookies  # the sign-in's cookie is spent
    assert "olga (idp:compliance, acme)" in page.inner_text("header")  # the provider's group, mapped in acme
    tenants = page.locator("#entries tbody tr td:nth-child(5)").all_inner_texts()
    assert "acme" in tenants and "globex" not in tenants

    page.click("text=Sign out")
    page.wait_for_url("**/console")
    assert page.goto(gw.url + "/console/entries").status == 401
