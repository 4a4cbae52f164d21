"""Schemathesis hooks of the contract run (loaded with SCHEMATHESIS_HOOKS=tests.contract.hooks).

Generated path parameters are mostly random: a random org slug or object id only ever
meets the 404 branch. Before each call this hook puts the seeded org and, for seven calls
in eight, a real object of the right kind into well-formed path parameters, so that the
responses have the shapes a user sees. Ill-formed ones (not a slug, not a UUID) are sent
as generated. The choice is a hash of the generated values: the same seed makes the same
calls. It also sends the credentials: the owner's personal token, or for the decision
service (which takes team credentials only) the seeded team key.
"""

import hashlib
import json
import os
import re
import uuid

import schemathesis

with open(os.environ["CONTRACT_SEED"]) as f:
    SEED = json.load(f)

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
VERB = re.compile(r"(\{public_id\}/)[a-z-]+/$")


def _pool(path: str):
    pools = SEED["pools"]
    return pools.get(path) or pools.get(VERB.sub(r"\1{verb}/", path))


def _well_formed(name, value) -> bool:
    if name == "org_slug":
        return isinstance(value, str) and bool(SLUG.match(value))
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    if params and all(_well_formed(k, v) for k, v in params.items()):
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).digest()
        if "org_slug" in params:
            params["org_slug"] = SEED["org_slug"]
        pool = _pool(case.operation.path)
        if pool and digest[0] % 8:  # one call in eight keeps its random ids: the 404s
            params.update(pool[digest[1] % len(pool)])
    if case.operation.path.endswith("/security-policy/") and isinstance(case.body, dict):
        # The owner's token must keep working for the rest of the run: a fuzzed "MFA
        # required" or "SSO required" would lock it out (docs/sso.md, personal tokens),
        # and every later write would only meet that 403.
        case.body = {**case.body, "mfa_required": False, "sso_required": False}
    credential = SEED["team_key"] if "/decisions" in case.operation.path \
        and "/o/" not in case.operation.path else SEED["token"]
    # Bearer only: a generated session cookie (the schema's cookie auth) is noise that
    # Django's test server may refuse below the app (an HTML "400" and a dropped
    # connection), which says nothing about the contract.
    case.headers = {**{k: v for k, v in (case.headers or {}).items()
                       if k.lower() != "cookie"},
                    "Authorization": f"Bearer {credential}"}
    case.cookies = {}
