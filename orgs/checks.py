"""System checks of the orgs app (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_signing_key_check(app_configs, **kwargs):
    """Production needs the audit signing key: without it no checkpoint is signed, and a
    database administrator can rewrite the audit log and recompute its hashes unseen."""
    if settings.AUDIT_SIGNING_KEY:
        return []
    return [Warning(
        "AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE) is not set: audit checkpoints are off.",
        hint="Generate one with `python -c \"import base64,os; "
             "print(base64.b64encode(os.urandom(32)).decode())\"`, keep it outside the "
             "database (docs/audit-log.md).",
        id="orgs.W001",
    )]
