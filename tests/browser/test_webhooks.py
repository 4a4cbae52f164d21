"""In Chromium: an admin adds a webhook endpoint, sends a test event, sees the delivery in
the log and redelivers it. Tasks run eagerly in the live server, as on_commit work."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(loopback_allowed):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_admin_adds_endpoint_sends_test_event_and_redelivers(page: Page, live_server, personas,
                                                            receiver):
    url, received = receiver
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label(re.compile(r"^Email:?$")).fill(personas["admin"].user.email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}/o/acme/")

    page.goto(f"{live_server.url}/o/acme/settings/webhooks/")
    page.get_by_label("Endpoint URL").fill(url)
    page.get_by_label("Description").fill("SIEM ingest")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued")).to_be_visible()
    deliveries = page.get_by_role("region", name="Deliveries")
    expect(deliveries.get_by_text("webhook.test")).to_be_visible()
    expect(deliveries.get_by_text("Delivered")).to_be_visible()
    assert Webhook(secret).verify(received[0][1], received[0][0])["type"] == "webhook.test"

    deliveries.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("Delivery queued again")).to_be_visible()
    assert len(received) == 2
    page.screenshot(path="test-results/webhook-page.png", full_page=True)
