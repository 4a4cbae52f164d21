"""Personal API tokens under the orgs' MFA and SSO rules (issue 12, section 3).

A personal token acts as its person in every org they belong to, so it must not be a way
around an org's "require two-factor authentication" or "require SSO":

- Minting (the token page, POST /api/v1/tokens/) needs a signed-in session, never
  another token, and that session must satisfy the rules of every org of the person:
  two-factor authentication set up where an org requires it, and a sign-in through the
  org's SSO where the org requires SSO of this person (sso_required_org: their email is
  in the org's verified domain; owners with MFA keep their break-glass). The token keeps
  the ids of the orgs whose SSO that session signed in through (`sso_org_ids`).
- Using a token in an org (OrgScopedAPIView) checks the same rules against the person
  now: MFA required but no authenticator -> refused; SSO required of the person but the
  token was not minted through that org's SSO (e.g. it is older than the rule) ->
  refused. The token keeps working in the person's other orgs.

Both answers name the rule, so a script's owner knows what to do. Orgs without either
rule cost no query: the policy rides on the membership query of the org resolver.
"""

from orgs.policy import SecurityPolicy
from orgs.session_policy import MFA_TYPES, sso_required_org


def has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type__in=MFA_TYPES).exists()


def _policy(org):
    try:
        return org.security_policy
    except SecurityPolicy.DoesNotExist:
        return None  # an org from before policies: no rules yet


def org_rule_refusal(*, membership, sso_org_ids, mfa: bool | None = None,
                     minting: bool = False) -> str | None:
    """Why a token (minting: a new token) may not act in membership's org, or None.
    Predicate for the org resolver and personal_token_create; changes nothing. `mfa`:
    whether the person has MFA, when the caller already knows."""
    org, user = membership.org, membership.user
    policy = _policy(org)
    if policy is None or not (policy.mfa_required or policy.sso_required):
        return None
    mfa = has_mfa(user) if mfa is None else mfa
    if policy.mfa_required and not mfa:
        if minting:
            return (f"{org.name} requires two-factor authentication: set it up at "
                    "/accounts/2fa/ before creating a personal API token.")
        return (f"{org.name} requires two-factor authentication, which you have not set "
                "up: your personal API tokens do not work here until you do "
                "(/accounts/2fa/).")
    if (policy.sso_required and org.pk not in sso_org_ids
            and sso_required_org(user, mfa) == org.slug):
        if minting:
            return (f"{org.name} requires single sign-on: sign in through its SSO "
                    f"(/sso/{org.slug}/), then create the token.")
        return (f"{org.name} requires single sign-on: this personal API token was not "
                "created in a session signed in through its SSO. Sign in with SSO "
                f"(/sso/{org.slug}/) and create a new token.")
    return None


def mint_refusal(*, memberships, sso_org_ids) -> str | None:
    """Why this person's session may not mint a personal token now, or None: the first
    org (by name) whose MFA or SSO rule it does not satisfy. Predicate, changes nothing."""
    mfa = None
    for membership in memberships:
        policy = _policy(membership.org)
        if policy is None or not (policy.mfa_required or policy.sso_required):
            continue
        mfa = has_mfa(membership.user) if mfa is None else mfa
        refusal = org_rule_refusal(membership=membership, sso_org_ids=sso_org_ids, mfa=mfa,
                                   minting=True)
        if refusal:
            return refusal
    return None
