"""Settings → Webhooks → Client certificate in real Chromium against a real `gitproductivity serve`: a pair that
cannot be used is refused with the field named and the key never shown again; without the server's encryption key
nothing is saved (said in words); a saved certificate (through the API) is shown by subject, issuer, fingerprint and
expiry on the endpoint's page and its own, and can be removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from gitproductivity.core.db import Database
from gitproductivity.webhooks import endpoints
from tests.conftest import Tenant
from tests.web.conftest import UI
from tests.webhooks.conftest import configure
from tests.webhooks.mtls import make_pki

pytestmark = pytest.mark.slow  # a real `gitproductivity serve` driven by Chromium

URL = "https://hooks.example.com/gitproductivity"
KEY = "a-credentials-key-for-tests-only-0123456789"


def test_the_client_certificate_page(
    ui: UI, tenant: Tenant, api: TestClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    pki.issue("other", "/CN=other", curve=True)
    with database.session() as session:  # made directly: saving through the API would send a test webhook
        hook = {"id": endpoints.create(session, organization_id=tenant.organization_id, url=URL, events=["*"]).id}
    ui.sign_in(tenant)
    ui.goto(f"/settings/webhooks/{hook['id']}")
    expect(ui.page.locator("#client-certificate-summary")).to_contain_text("none")
    ui.page.get_by_role("link", name="Add a client certificate (mTLS)").click()
    expect(ui.page.locator("#client-certificate")).to_contain_text("No client certificate")

    page_path = f"/settings/webhooks/{hook['id']}/client-certificate"
    ui.expect_status(422, page_path)
    ui.page.get_by_label("Certificate (PEM").fill(pki.pair("client")["certificate"])
    ui.page.get_by_label("Private key (PEM").fill(pki.pair("other")["private_key"])
    ui.page.get_by_role("button", name="Save certificate").click()
    expect(ui.page.locator("#e-private_key")).to_contain_text("does not belong to the certificate")
    expect(ui.page.get_by_label("Private key (PEM")).to_have_value("")  # the key is never sent back
    expect(ui.page.get_by_label("Certificate (PEM")).to_have_value(pki.pair("client")["certificate"])

    # The server has no encryption key (GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY): a good pair is refused, in words.
    ui.page.get_by_label("Private key (PEM").fill(pki.pair("client")["private_key"])
    ui.page.get_by_role("button", name="Save certificate").click()
    expect(ui.page.locator("#certificate-errors")).to_contain_text("GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY")
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["client_certificate"] is None

    # Saved through the API by a process that has the key: the pages show what identifies it, never the pair.
    configure(database_url, tmp_path, webhook_credentials_key=KEY)
    saved = api.patch(f"/v1/webhooks/{hook['id']}", json={"client_certificate": pki.pair("client")}).json()
    ui.goto(f"/settings/webhooks/{hook['id']}")
    summary = ui.page.locator("#client-certificate-summary")
    expect(summary).to_contain_text("O=GitProductivity Tests,CN=gp-client")
    expect(summary).to_contain_text("expires on")  # two days left: within the 30 days shown as soon
    expect(summary).to_contain_text("in 1 day")
    ui.page.get_by_role("link", name="Replace or remove").click()
    shown = ui.page.locator("#client-certificate")
    expect(shown).to_contain_text(saved["client_certificate"]["fingerprint_sha256"])
    expect(shown).to_contain_text("CN=GitProductivity Test CA")
    page = ui.page.content()
    assert not [line for line in pki.pair("client")["private_key"].splitlines()[1:-1] if line in page]

    ui.page.get_by_role("button", name="Remove certificate").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Client certificate removed")
    expect(ui.page.locator("#client-certificate-summary")).to_contain_text("none")
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["client_certificate"] is None


def test_the_add_form_takes_a_client_certificate_and_refuses_a_bad_one(ui: UI, tenant: Tenant, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pki.issue("other", "/CN=other", curve=True)
    ui.sign_in(tenant)
    ui.goto("/settings/webhooks/new")
    ui.page.get_by_label("Endpoint URL").fill(URL)
    ui.page.locator("input[name=events][value='developer.added']").check()
    ui.page.get_by_text("Client certificate (mTLS, optional)").click()
    ui.page.get_by_label("Certificate (PEM").fill(pki.pair("client")["certificate"])
    ui.page.get_by_label("Private key (PEM").fill(pki.pair("other")["private_key"])
    ui.expect_status(422, "/settings/webhooks")
    ui.page.get_by_role("button", name="Save and send a test").click()
    error = ui.page.locator("#e-client_certificate")
    expect(error).to_contain_text("this private key does not belong to the certificate")
    expect(ui.page.locator("#form-errors")).to_contain_text("Client certificate")
    expect(ui.page.get_by_label("Private key (PEM")).to_have_value("")  # the key is never sent back
    expect(ui.page.get_by_label("Certificate (PEM")).to_have_value(pki.pair("client")["certificate"])
    expect(ui.page.get_by_label("Endpoint URL")).to_have_value(URL)

    # A good pair, but this server has no encryption key: nothing saved, and the setting is named.
    ui.page.get_by_label("Private key (PEM").fill(pki.pair("client")["private_key"])
    ui.page.get_by_role("button", name="Save and send a test").click()
    expect(error).to_contain_text("GITPRODUCTIVITY_WEBHOOK_CREDENTIALS_KEY")
    ui.goto("/settings/webhooks")
    expect(ui.page.get_by_text("No webhooks yet.")).to_be_visible()
