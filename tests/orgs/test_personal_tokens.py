"""Personal API tokens (gvp_...) against the org's rules (issue 12):

- section 2: failed token authentications are throttled per client address (429 with
  Retry-After), like failed sign-ins;
- section 3: minting needs a session that satisfied every org's MFA and SSO rules, and a
  token stops working in an org whose rules its person no longer satisfies."""

import pytest
from rest_framework.test import APIClient

from orgs.services import personal_token_create

pytestmark = pytest.mark.django_db
MEMBERS = "/api/v1/o/acme/members/"


def bearer(secret, address="127.0.0.1"):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_failed_token_authentications_are_throttled_per_address(settings, personas):
    settings.FAILED_TOKEN_AUTH_RATE = "3/m"
    _, good = personal_token_create(user=personas["security"].user, name="script")
    codes = [bearer("gvp_guessed-" + str(n)).get(MEMBERS).status_code for n in range(3)]
    assert codes == [401, 401, 401]

    refused = bearer("gvp_guessed-4").get(MEMBERS)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed token authentications")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Like failed sign-ins, the whole address waits (no guess is even looked up), while
    # other addresses are not affected.
    assert bearer(good).get(MEMBERS).status_code == 429
    assert bearer(good, "198.51.100.7").get(MEMBERS).status_code == 200
    assert bearer("not-even-a-token", "198.51.100.8").get(MEMBERS).status_code == 401


def test_successful_token_calls_never_use_up_the_limit(settings, personas):
    settings.FAILED_TOKEN_AUTH_RATE = "2/m"
    _, good = personal_token_create(user=personas["security"].user, name="script")
    assert {bearer(good).get(MEMBERS).status_code for _ in range(5)} == {200}
