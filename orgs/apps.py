from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations"

    def ready(self):
        from orgs import checks, schema  # noqa: F401  (system checks, OpenAPI auth extension)
        from orgs.receivers import connect

        connect()  # audit events for sign-ins, sign-outs, failures and MFA changes
