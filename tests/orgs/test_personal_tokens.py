"""Personal API tokens (gvp_...) against the org's rules (issue 12):

- section 2: failed token authentications are throttled per client address (429 with
  Retry-After), like failed sign-ins;
- section 3: minting needs a session that satisfied every org's MFA and SSO rules, and a
  token stops working in an org whose rules its person no longer satisfies."""

import pytest
from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from orgs.models import PersonalToken
from orgs.roles import Role
from orgs.services import personal_token_create, security_policy_update
from tests.dns_components import verify_domain
from tests.factories import MembershipFactory

# Rate windows frozen: no window may end in the middle of a test.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_rate_clock")]
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


# --- Section 3: tokens follow the orgs' MFA and SSO rules -----------------------------------

def give_mfa(user):
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


@pytest.fixture
def sso_required(owner, dns):
    verify_domain(dns, owner.org, owner, "acme.test")  # proven over real DNS (issue 12.1)
    security_policy_update(org=owner.org, actor=owner, sso_required=True)
    return owner.org


def mint_over_api(client):
    return client.post("/api/v1/tokens/", {"name": "ci", "days": 90}, format="json")


def test_an_owners_token_stops_working_and_minting_when_mfa_becomes_required(owner):
    # The bug: with MFA required and the owner without MFA, the owner's existing token
    # kept working and minted fresh 90-day tokens.
    _, secret = personal_token_create(user=owner.user, name="laptop")
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)

    refused = bearer(secret).get(MEMBERS)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Acme requires two-factor authentication")
    minted = mint_over_api(bearer(secret))
    assert minted.status_code == 403
    assert "not with another token" in minted.json()["detail"]
    assert PersonalToken.objects.filter(user=owner.user).count() == 1

    give_mfa(owner.user)
    assert bearer(secret).get(MEMBERS).status_code == 200


def test_minting_needs_mfa_where_an_org_requires_it(owner):
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)
    session = APIClient()
    session.force_authenticate(owner.user)
    refused = mint_over_api(session)
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("Acme requires two-factor authentication: set it up "
                                        "at /accounts/2fa/ before creating a personal API "
                                        "token.")
    assert not PersonalToken.objects.filter(user=owner.user).exists()
    with pytest.raises(PermissionDenied, match="Acme requires two-factor authentication"):
        personal_token_create(user=owner.user, name="script")
    give_mfa(owner.user)
    assert mint_over_api(session).status_code == 201


def test_a_token_keeps_working_in_the_persons_other_orgs(owner, org_b):
    MembershipFactory(org=org_b, user=owner.user, role=Role.MEMBER)
    _, secret = personal_token_create(user=owner.user, name="laptop")
    security_policy_update(org=owner.org, actor=owner, mfa_required=True)
    assert bearer(secret).get(MEMBERS).status_code == 403
    assert bearer(secret).get("/api/v1/o/globex/members/").status_code == 200


def test_minting_on_the_page_needs_a_session_signed_in_through_the_orgs_sso(
        client, personas, sso_required):
    member = personas["member"]
    client.force_login(member.user)  # a password session
    page = client.post("/account/tokens/", {"name": "ci", "days": 30})
    assert page.status_code == 403
    assert "Acme requires single sign-on: sign in through its SSO (/sso/acme/)" in \
        page.content.decode()
    assert not PersonalToken.objects.filter(user=member.user).exists()

    session = client.session
    session["sso_org_slugs"] = ["acme"]  # what an SSO sign-in through Acme's IdP records
    session.save()
    page = client.post("/account/tokens/", {"name": "ci", "days": 30})
    assert page.status_code == 201
    token = PersonalToken.objects.get(user=member.user)
    assert token.sso_org_ids == [sso_required.pk]
    secret = page.context["secret"]
    assert bearer(secret).get(MEMBERS).status_code == 200


def test_a_token_from_before_sso_was_required_stops_working_in_that_org(personas, owner, dns):
    member = personas["member"]
    _, secret = personal_token_create(user=member.user, name="script")
    assert bearer(secret).get(MEMBERS).status_code == 200
    verify_domain(dns, owner.org, owner, "acme.test")
    security_policy_update(org=owner.org, actor=owner, sso_required=True)

    refused = bearer(secret).get(MEMBERS)
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Acme requires single sign-on: this personal API token was not created in a "
        "session signed in through its SSO. Sign in with SSO (/sso/acme/) and create a "
        "new token.")


def test_an_owner_with_mfa_keeps_the_break_glass_for_tokens(owner, sso_required):
    give_mfa(owner.user)
    _, secret = personal_token_create(user=owner.user, name="break-glass")
    assert bearer(secret).get(MEMBERS).status_code == 200


def test_sso_of_one_org_does_not_touch_people_of_other_domains(outsider, sso_required):
    _, secret = personal_token_create(user=outsider.user, name="globex script")
    assert bearer(secret).get("/api/v1/o/globex/members/").status_code == 200
