"""Settings for governance. Every environment difference is an environment variable.

The table of variables is in README.md ("Configuration"). Helpers in governance/env.py
raise ImproperlyConfigured on bad values, and no secret ever gets a generated default.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from governance.env import (
    cache_config,
    email_config,
    env_bool,
    env_ed25519_key,
    env_int,
    env_list,
    env_nameservers,
    env_networks,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    # Debug only: a fixed, obviously unsafe key so a first local run needs no setup.
    SECRET_KEY = "insecure-debug-only-key-never-use-in-production-0123456789abcdef"

BASE_URL = env_url("BASE_URL", "http://127.0.0.1:8000")
_base = urlparse(BASE_URL)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [_base.hostname or "127.0.0.1"])
if DEBUG:
    ALLOWED_HOSTS += ["127.0.0.1", "localhost", "testserver"]
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "orgs",
    "projects",
    "approvals",
    "evidence",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "orgs.csp_middleware.CachedCSPMiddleware",  # django-csp, policy built once
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orgs.middleware.RequestContextMiddleware",
    "orgs.api_errors.ApiJsonErrors",  # inside the request id, so errors keep its header
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "orgs.session_policy.SessionPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"
ASGI_APPLICATION = "governance.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orgs.context_processors.navigation",
            ],
            # stored: d|pairs, the safe way to list a stored dict's items.
            "builtins": ["template_partials.templatetags.partials",
                         "orgs.templatetags.stored"],
        },
    }
]

# DATABASE_URL: postgres://user:pass@host:5432/name in production and CI. The default is
# a SQLite file so that a first run needs no database server.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'governance.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Wait instead of failing when web and worker write at the same moment.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "orgs.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The test suite sets a fast hasher; production keeps Django's default (PBKDF2).
if env_bool("FAST_PASSWORD_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Guardian: object permissions for project roles. No anonymous user row: anonymous
# visitors never hold object permissions here.
ANONYMOUS_USER_NAME = None

# django-allauth: email is the login; verification is mandatory so an invitation or an
# SSO mapping can trust it.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
if ACCOUNT_EMAIL_VERIFICATION not in {"mandatory", "optional", "none"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "orgs.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[governance] "
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "orgs:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
# Failed sign-ins: at most 10 a minute per client address and 5 per account in 5 minutes
# (allauth counts them in the cache, so production needs a shared CACHE_URL).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/300s/key"}

# SSO (issue #3): SocialApps come from each org's SSO connections (orgs/adapters.py), never
# from settings or SocialApp rows. An SSO answer joins an existing account only when the
# IdP marks the address verified (allauth matches verified addresses only), and the
# adapter also refuses any address outside the connection's org's verified domains.
SOCIALACCOUNT_ADAPTER = "orgs.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # per connection, in the built SocialApp
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
SOCIALACCOUNT_ONLY = False
# Linking an SSO identity to an account that already exists goes through allauth's
# connect flow, and that asks for the account's password again first (issue 12.1): an
# IdP alone can never attach itself to somebody's account.
SOCIALACCOUNT_REAUTHENTICATION_REQUIRED = True

# Email domains (issue 12.1). A domain counts for SSO only once proven by a DNS TXT record
# seen by a real resolver query, or listed here by the operator (no proof asked: for the
# operator's own domains, or a demo). The resolver is the system's unless
# DNS_RESOLVER_NAMESERVERS names servers ("127.0.0.1:5399,10.0.0.2"; port 53 by default).
SSO_PREVERIFIED_DOMAINS = [d.lower().strip(".") for d in env_list("SSO_PREVERIFIED_DOMAINS", [])]
DNS_RESOLVER_NAMESERVERS = env_nameservers("DNS_RESOLVER_NAMESERVERS")
DNS_RESOLVER_TIMEOUT = env_int("DNS_RESOLVER_TIMEOUT", 5)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Bootstrap comes from npm (package.json); bin/run and bin/test run `npm ci`.
_bootstrap = BASE_DIR / "node_modules" / "bootstrap" / "dist"
if _bootstrap.is_dir():
    STATICFILES_DIRS.append(("vendor/bootstrap", _bootstrap))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploaded evidence files (evidence/services.py) go through the default storage. MEDIA_URL
# is never served: downloads go through an org-scoped view that checks the reader's scope.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
EVIDENCE_MAX_UPLOAD_BYTES = env_int("EVIDENCE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1)
# Extensions accepted for evidence files; each is checked against its expected content
# types too, so a renamed executable is refused (evidence/services.py ALLOWED_TYPES).
EVIDENCE_ALLOWED_EXTENSIONS = env_list(
    "EVIDENCE_ALLOWED_EXTENSIONS", ["pdf", "png", "jpg", "jpeg", "txt", "csv", "json", "md",
                                    "zip", "html"])

# EMAIL_URL: console:// (default) prints mail; smtp://user:pass@host:587?tls=1 sends it.
EMAIL_URL = env_str("EMAIL_URL", "console://")
globals().update(email_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "governance <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Key(s) for secrets stored encrypted (orgs/crypto.py); comma-separated, first encrypts.
# Unset: derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")

# Every outbound request (webhooks, the smoke-test gateway, catalog URLs, OIDC discovery,
# SAML metadata, JWKS, allauth's calls to an IdP) goes through orgs/outbound.py, which
# refuses loopback, private, link-local and other non-public addresses (SSRF) unless they
# lie in one of these networks. Empty in production; DEBUG allows loopback and the
# private ranges of a developer's machine, never link-local (cloud metadata). Tests allow
# 127.0.0.1/32 only where they run their own fake server.
OUTBOUND_ALLOWED_NETWORKS = env_networks("OUTBOUND_ALLOWED_NETWORKS", [
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
] if DEBUG else [])
for _old in ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "GATEWAY_ALLOW_PRIVATE_NETWORKS",
             "WORKLOAD_ALLOW_LOCAL_ISSUERS"):
    # Replaced by the one list above; failing loudly beats a silently ignored setting.
    if _old in os.environ:
        raise ImproperlyConfigured(f"{_old} was replaced by OUTBOUND_ALLOWED_NETWORKS "
                                   "(a list of networks, e.g. 10.1.0.0/16).")

# CACHE_URL: locmem:// (one process) by default; redis://host:6379/N in production, where
# every process must see a key revocation on its next request (projects/credentials.py).
# CACHE_KEY_PREFIX keeps several deployments (or test runs) on one Redis apart.
CACHES = cache_config(env_str("CACHE_URL", "locmem://"),
                      key_prefix=env_str("CACHE_KEY_PREFIX", ""))

# The decision log's per-process flush thread (approvals/decisions/log.py). Tests turn it
# off and flush inside their own transaction.
DECISION_LOG_FLUSH_THREAD = env_bool("DECISION_LOG_FLUSH_THREAD", True)

# Team API keys are stored as HMAC-SHA256(KEY_PEPPER, secret). Unset: derived from
# SECRET_KEY, so rotating SECRET_KEY then invalidates every team API key (docs/keys.md).
KEY_PEPPER = env_str("KEY_PEPPER")
# Workload identity issuers must be https; plain http only to an address inside
# OUTBOUND_ALLOWED_NETWORKS (a local test issuer), see projects/jwks.py.

# Rate limits (orgs/ratelimit.py), counted in the shared cache so they hold across
# processes; "amount/window" (s, m, h, d), empty turns one off; over a limit: 429 with
# Retry-After. The token exchange is anonymous, so it is limited per client address and
# per issuer the subject token names (docs/keys.md).
TOKEN_EXCHANGE_RATE_PER_ADDRESS = env_rate("TOKEN_EXCHANGE_RATE_PER_ADDRESS", "60/m")
TOKEN_EXCHANGE_RATE_PER_ISSUER = env_rate("TOKEN_EXCHANGE_RATE_PER_ISSUER", "600/m")
# Failed personal-token and team-key authentications per client address; once used up,
# every attempt from that address waits (like failed sign-ins, ACCOUNT_RATE_LIMITS).
FAILED_TOKEN_AUTH_RATE = env_rate("FAILED_TOKEN_AUTH_RATE", "20/m")
# Refused exchanges whose signature did not verify are counted per window of this many
# seconds (shown by /healthz) and raise at most one finding per org per window.
UNVERIFIED_EXCHANGE_WINDOW_SECONDS = env_int("UNVERIFIED_EXCHANGE_WINDOW_SECONDS", 3600,
                                             minimum=60)

# Client address for the audit log: with NUM_PROXIES=N, the Nth address from the right of
# X-Forwarded-For (the one our own proxy saw); with 0, REMOTE_ADDR.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)

# Audit checkpoints (docs/audit-log.md): the Ed25519 private key that signs each org's
# chain head, as base64 of its 32 raw bytes, in AUDIT_SIGNING_KEY or in the file that
# AUDIT_SIGNING_KEY_FILE names. Never in the database and never generated here: bin/run
# makes one under var/ for the zero-setup run; unset in production, `check --deploy`
# warns and /healthz reports checkpoints as off. Signed checkpoints are also appended to
# AUDIT_CHECKPOINT_FILE (JSON lines), the copy outside the database; point it at storage
# the database administrators cannot rewrite (another host's mount, WORM storage).
AUDIT_SIGNING_KEY = env_ed25519_key("AUDIT_SIGNING_KEY")
AUDIT_CHECKPOINT_FILE = Path(env_str("AUDIT_CHECKPOINT_FILE",
                                     str(VAR_DIR / "audit-checkpoints.jsonl")))

# Production hardening. `manage.py check --deploy` is clean with DEBUG off.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts and styles only from our own static
# files, no inline script, style attribute or eval. Pages keep behaviour in
# static/js/app.js (data-confirm, data-copy, data-width). The API doc pages relax
# style-src for themselves only (governance/urls.py): Swagger UI and ReDoc inject styles.
# form-action is left out on purpose: SSO logins post, then redirect to the IdP.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Bootstrap's icons are data: SVGs in its CSS
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orgs.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orgs.jsonbody.JSONParser refuses bodies nested too deep (a 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": ["orgs.jsonbody.JSONParser",
                               "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "orgs.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "orgs.schema.AutoSchema",  # documents the error answers
    "EXCEPTION_HANDLER": "orgs.api_base.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "governance API",
    "DESCRIPTION": "Organizations, members, projects, environments, callers and the audit log. "
    "Every tenant endpoint lives under /api/v1/o/{org_slug}/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is public: no authentication, so a gateway's team key (which the
    # personal-token class refuses) or a stale token still gets it, not a 401 in YAML.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrgRoleEnum": "orgs.roles.Role",
        "ProjectRoleEnum": "projects.roles.ProjectRole",
        "SignOffRoleEnum": "approvals.models.SignOff.Role",
        "SignOffDecisionEnum": "approvals.models.SignOff.Decision",
        "PolicyRowStatusEnum": "approvals.workflow.Status",
        "UsageImportKindEnum": "evidence.models.UsageImport.Kind",
        "UsageImportStatusEnum": "evidence.models.UsageImport.Status",
    },
}

# Celery. The default broker is kombu's filesystem transport under var/celery, so a
# first run needs no broker server; production and CI use redis:// or amqp://.
_celery_dir = VAR_DIR / "celery"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The beat schedule: one dict, a comment on each line (synced into django-celery-beat).
CELERY_BEAT_SCHEDULE = {
    # Every 5 minutes: audit and announce (key.expired) team API keys that just expired
    # (projects/tasks.py). Expired keys already fail resolution; this only reports them.
    "projects.report_expired_keys": {
        "task": "projects.report_expired_keys",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Hourly: remind creators and security of keys expiring in 14, 7 and 1 days; each
    # reminder once per key and mark (orgs/reminders.py), however often this runs.
    "projects.remind_expiring_keys": {
        "task": "projects.remind_expiring_keys",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    # Every 5 minutes: one finding per org and window for token exchanges refused before
    # their signature verified (approvals/exchange_findings.py); counts live in the cache.
    "approvals.unverified_exchange_scan": {
        "task": "approvals.unverified_exchange_scan",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Daily at 05:00 UTC: the renewal scan of the approval matrix (approvals/tasks.py):
    # reminders 30/14/7/1 days before a row's renewal date (per org: ApprovalSettings),
    # renewal due, the overdue notice, expiry after the grace period. Each effect once per
    # row, kind and period, so the hourly entry below may run it again at no cost.
    "approvals.renewal_scan": {
        "task": "approvals.renewal_scan",
        "schedule": crontab(minute=0, hour=5),
        "options": {"expires": 3000},
    },
    # Hourly, the same scan: catches up within the hour after downtime or a new row that is
    # already due, and shows a first reminder soon in the zero-setup run (bin/run).
    "approvals.renewal_scan.hourly": {
        "task": "approvals.renewal_scan",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    # Daily at 04:00 UTC: the scheduled catalog refresh (evidence/tasks.py): each org with a
    # refresh URL (Catalog > Refresh) fetches and imports it as the system; the import's
    # diff raises catalog-change findings and reopens rows before the 05:00 renewal scan.
    # The same file again is a quiet no-op; a failure tells the admins once.
    "evidence.catalog_refresh": {
        "task": "evidence.catalog_refresh",
        "schedule": crontab(minute=0, hour=4),
        "options": {"expires": 3000},
    },
    # Daily at 05:30 UTC: the evidence expiry scan (approvals/evidence_expiry.py): required
    # evidence past valid-until tells the row's evidence and app owners and raises a
    # finding, once per (row, item); reminders 14 and 1 days before, once per mark.
    "approvals.evidence_expiry_scan": {
        "task": "approvals.evidence_expiry_scan",
        "schedule": crontab(minute=30, hour=5),
        "options": {"expires": 3000},
    },
    # Mondays at 07:00 UTC: the weekly digest (approvals/digest.py), one email per member
    # with something due, open or over budget; once per (member, ISO week), so a second
    # run that week (run_due_jobs, a duplicate tick) sends nothing.
    "approvals.weekly_digest": {
        "task": "approvals.weekly_digest",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
        "options": {"expires": 3000},
    },
    # Every 5 minutes: revoke open invitations that expired over 30 days ago (orgs/tasks.py).
    # A run not picked up within 290 s is dropped, so runs do not pile up without a worker.
    "orgs.expire_stale_credentials": {
        "task": "orgs.expire_stale_credentials",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Every 6 hours: re-read the TXT record of every verified domain (orgs/sso/tasks.py); a
    # record that is gone un-verifies the domain (audited, admins told); DNS down changes nothing.
    "orgs.domains_recheck": {
        "task": "orgs.domains_recheck",
        "schedule": 6 * 3600.0,
        "options": {"expires": 3600},
    },
    # Every 15 minutes: sign each org's audit chain head with the Ed25519 audit key and
    # append it to AUDIT_CHECKPOINT_FILE (orgs/audit/checkpoints.py); an unchanged head is
    # not signed again. Edits hidden by recomputed hashes are visible from the next one.
    "orgs.audit_checkpoint": {
        "task": "orgs.audit_checkpoint",
        "schedule": 900.0,
        "options": {"expires": 890},
    },
    # Every minute: dispatch notification events a lost message left behind, and retry
    # webhook deliveries whose backoff has passed or whose worker died (orgs/tasks.py).
    "orgs.events_sweep": {
        "task": "orgs.events_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
