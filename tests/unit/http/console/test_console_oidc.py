"""The console's sign-in through a real OIDC provider (oidc-provider-mock, PKCE checked), over real sockets with
httpx following the redirects: a session for an auditor of the provider, each refusal a page and an audited
``auth.failure`` reason (never the code, state or token), sign-out, and API keys still working beside it."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.apikeys import create_key
from gateway.bootstrap import Services
from gateway.http.app import create_app
from tests.oidc_provider import Provider, running_provider, s256
from tests.unit.http.conftest import fake_services
from tests.uvicornkit import serving_app

CONSOLE_CLIENT = "audit-console"
CSRF = re.compile(r"name='csrf' value='([^']+)'")


@dataclass
class Served:
    url: str
    services: Services
    provider: Provider

    def entry(self, response: httpx.Response) -> dict[str, Any]:
        index = int(response.headers["X-Gateway-Audit-Index"])
        return dict(json.loads(self.services.audit_log.entries(index, index + 1)[0]))

    def all_entries(self) -> str:
        return "\n".join(e.decode() if isinstance(e, bytes) else str(e)
                         for e in self.services.audit_log.entries(0, self.services.audit_log.size()))


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def gw(tmp_path: Path, provider: Provider) -> Iterator[Served]:
    secret = tmp_path / "console-client-secret"
    secret.write_text("s3cret-of-the-console\n")  # a confidential client (the provider accepts any secret)
    services = fake_services(tmp_path, oidc_discovery=provider.discovery, oidc_audience="embedding-gateway",
                             oidc_console_client_id=CONSOLE_CLIENT, oidc_console_client_secret_file=str(secret))
    with (tmp_path / "policy" / "policy.csv").open("a") as fh:  # the provider's group, an auditor in acme only
        fh.write("g, idp:compliance, auditor, acme\n")
    services.authorizer.reload_if_changed()
    with serving_app(create_app(services)) as port:
        yield Served(f"http://127.0.0.1:{port}", services, provider)


def _authorize(browser: httpx.Client, gw: Served) -> str:
    """Click "Sign in with ..." and land on the provider's authorization form; its URL."""
    form = browser.get(gw.url + "/console/oidc/start")
    assert form.status_code == 200 and str(form.url).startswith(gw.provider.url + "/oauth2/authorize")
    return str(form.url)


def _callback_url(browser: httpx.Client, authorize_url: str, sub: str) -> str:
    """Sign in at the provider as ``sub``; the URL it sends the browser back to (not followed)."""
    r = browser.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def sign_in(browser: httpx.Client, gw: Served, sub: str, claims: dict[str, Any]) -> httpx.Response:
    gw.provider.user(sub, claims)
    return browser.post(_authorize(browser, gw), data={"sub": sub})


def test_when_an_auditor_signs_in_at_the_provider_then_a_pkce_flow_opens_a_session_of_its_tenant(gw: Served) -> None:
    acme = create_key(gw.services.apikeys, "acme", "alice", "writer")[0]
    globex = create_key(gw.services.apikeys, "globex", "gina", "writer")[0]
    for key in (acme, globex):
        assert httpx.get(gw.url + "/v1/collections", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with httpx.Client(follow_redirects=True) as browser:
        page = browser.get(gw.url + "/console")
        assert "Sign in with localhost" in page.text and "name='api_key'" in page.text
        done = sign_in(browser, gw, "olga", {"tenant": "acme", "roles": ["auditor"]})
        assert done.status_code == 200 and str(done.url).startswith(gw.url + "/console/oidc/callback")
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("gw_console="))
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        signed_in = gw.entry(done)
        assert (signed_in["event"], signed_in["what"], signed_in["auth"], signed_in["subject"],
                signed_in["tenant"]) == ("audit.read", "console.signin", "oidc", "olga", "acme")
        entries = browser.get(gw.url + "/console/entries")
        assert entries.status_code == 200 and "olga (auditor, acme)" in entries.text
        assert "<td>acme</td>" in entries.text and "<td>globex</td>" not in entries.text
    exchange = gw.provider.pkce.exchanges[-1]
    assert exchange["client_id"] == CONSOLE_CLIENT and len(exchange["code_verifier"]) >= 43
    assert exchange["redirect_uri"] == gw.url + "/console/oidc/callback"


def test_when_the_sign_in_starts_then_state_nonce_and_an_s256_challenge_go_to_the_provider(gw: Served) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        first = urllib.parse.parse_qs(urllib.parse.urlsplit(_authorize(browser, gw)).query)
        second = urllib.parse.parse_qs(urllib.parse.urlsplit(_authorize(browser, gw)).query)
    assert first["code_challenge_method"] == ["S256"] and first["response_type"] == ["code"]
    assert first["client_id"] == [CONSOLE_CLIENT] and "openid" in first["scope"][0]
    for name in ("state", "nonce", "code_challenge"):
        assert len(first[name][0]) >= 43 and first[name] != second[name]  # fresh for every sign-in


def test_when_a_provider_group_maps_to_auditor_then_it_signs_in(gw: Served) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        done = sign_in(browser, gw, "gus", {"tenant": "acme", "roles": ["idp:compliance"]})
        assert done.status_code == 200, done.text
        assert browser.get(gw.url + "/console/entries").status_code == 200


def _refused(gw: Served, response: httpx.Response, reason: str, status: int = 401) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert "Sign in with localhost" in response.text  # the sign-in page again, with the message
    e = gw.entry(response)
    assert (e["event"], e["decision"], e["reason"], e["what"], e["auth"]) == (
        "auth.failure", "deny", reason, "console.signin", "oidc")
    assert not any(c.startswith("gw_console=") for c in response.headers.get_list("set-cookie"))
    return e


def test_when_the_state_is_tampered_with_then_bad_state(gw: Served) -> None:
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    with httpx.Client(follow_redirects=True) as browser:
        back = _callback_url(browser, _authorize(browser, gw), "olga")
        forged = re.sub(r"state=[^&]+", "state=forged", back)
        r = browser.get(forged)
        _refused(gw, r, "bad_state")
        assert browser.get(gw.url + "/console/entries").status_code == 401
        assert "forged" not in gw.all_entries()


def test_when_the_callback_comes_to_another_browser_then_bad_state(gw: Served) -> None:
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    with httpx.Client(follow_redirects=True) as victim, httpx.Client(follow_redirects=True) as attacker:
        back = _callback_url(attacker, _authorize(attacker, gw), "olga")
        _authorize(victim, gw)  # the victim has a sign-in of its own under way: still not this one
        _refused(gw, victim.get(back), "bad_state")


def test_when_a_callback_is_replayed_or_its_code_reused_then_refused(gw: Served) -> None:
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    with httpx.Client(follow_redirects=True) as browser:
        back = _callback_url(browser, _authorize(browser, gw), "olga")
        assert browser.get(back).status_code == 200
        e = _refused(gw, browser.get(back), "bad_state")  # the sign-in was taken once
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
        assert code not in json.dumps(e) and code not in gw.all_entries()
        fresh = _callback_url(browser, _authorize(browser, gw), "olga")
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(fresh).query)["state"][0]
        replayed = gw.url + "/console/oidc/callback?" + urllib.parse.urlencode({"state": state, "code": code})
        _refused(gw, browser.get(replayed), "code_rejected")  # the provider takes a code once


def test_when_the_id_token_carries_another_nonce_then_wrong_nonce(gw: Served) -> None:
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    with httpx.Client(follow_redirects=True) as browser:
        url = re.sub(r"nonce=[^&]+", "nonce=injected-by-an-attacker", _authorize(browser, gw))
        back = _callback_url(browser, url, "olga")
        _refused(gw, browser.get(back), "wrong_nonce")


def test_when_the_id_token_was_issued_to_another_client_then_wrong_audience(gw: Served) -> None:
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    gw.provider.pkce.impersonate = "another-app"
    try:
        with httpx.Client(follow_redirects=True) as browser:
            back = _callback_url(browser, _authorize(browser, gw), "olga")
            _refused(gw, browser.get(back), "wrong_audience")
    finally:
        gw.provider.pkce.impersonate = None


def test_when_the_code_verifier_is_wrong_then_the_provider_refuses_the_code(gw: Served) -> None:
    """The provider's PKCE check itself: a code stolen from the redirect is useless without the verifier."""
    gw.provider.user("olga", {"tenant": "acme", "roles": ["auditor"]})
    with httpx.Client(follow_redirects=True) as browser:
        back = _callback_url(browser, _authorize(browser, gw), "olga")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
    stolen = httpx.post(gw.provider.url + "/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": gw.url + "/console/oidc/callback",
        "client_id": CONSOLE_CLIENT, "code_verifier": "a-guess-" + "x" * 40})
    assert stolen.status_code == 400 and s256("a-guess-" + "x" * 40) != gw.provider.pkce.challenges[code][0]


@pytest.mark.parametrize(("claims", "reason", "status"), [
    ({"roles": ["auditor"]}, "missing_claim", 401),
    ({"tenant": "acme", "roles": ["writer"]}, "not_an_auditor", 403),
    ({"tenant": "globex", "roles": ["idp:compliance"]}, "no_known_role", 401),  # mapped in acme only
    ({"tenant": "ACME", "roles": ["auditor"]}, "invalid_claim", 401),  # one tenant, one spelling: no "ACME" tenant
])
def test_when_the_identity_may_not_open_the_console_then_refused_with_its_reason(
    gw: Served, claims: dict[str, Any], reason: str, status: int
) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        r = sign_in(browser, gw, "mallory", claims)
        _refused(gw, r, reason, status)
        assert browser.get(gw.url + "/console/entries").status_code == 401


def test_when_the_provider_answers_with_an_error_then_provider_error(gw: Served) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        url = _authorize(browser, gw)
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
        r = browser.get(gw.url + "/console/oidc/callback?" + urllib.parse.urlencode(
            {"error": "access_denied", "state": state}))
        _refused(gw, r, "provider_error")
        # The mock's Deny button answers without the state (RFC 6749 wants it back): nothing it says is trusted.
        _refused(gw, browser.post(_authorize(browser, gw), data={"action": "deny"}), "bad_state")


def test_when_signed_out_then_the_session_ends(gw: Served) -> None:
    with httpx.Client(follow_redirects=True) as browser:
        assert sign_in(browser, gw, "olga", {"tenant": "acme", "roles": ["auditor"]}).status_code == 200
        page = browser.get(gw.url + "/console/entries")
        match = CSRF.search(page.text)
        assert match is not None
        out = browser.post(gw.url + "/console/signout", data={"csrf": match.group(1)})
        assert out.status_code == 200 and "name='api_key'" in out.text
        assert browser.get(gw.url + "/console/entries").status_code == 401


def test_when_oidc_is_configured_then_an_api_key_still_signs_in(gw: Served) -> None:
    key = create_key(gw.services.apikeys, "acme", "olga", "auditor")[0]
    with httpx.Client(follow_redirects=True) as browser:
        r = browser.post(gw.url + "/console/signin", data={"api_key": key})
        assert r.status_code == 200 and str(r.url) == gw.url + "/console/entries"
        assert "auth" not in gw.entry(r)  # an entry without it: an API key


def test_when_the_console_client_is_not_configured_then_no_provider_sign_in(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    services = fake_services(tmp_path)
    with TestClient(create_app(services)) as client:
        assert "Sign in with" not in client.get("/console").text
        assert client.get("/console/oidc/start", follow_redirects=False).status_code == 404
        assert client.get("/console/oidc/callback?state=x&code=y").status_code == 404
