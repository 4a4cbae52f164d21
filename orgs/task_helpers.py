"""What every app's tasks share: bounded retries, and the beat fan-out over all orgs."""

from django.db import OperationalError

from orgs.models import Organization

# acks_late: a task whose worker died is delivered again, so each task is safe to run
# twice; retries are bounded and back off, and only for database hiccups.
RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 3,
}


def for_each_org(task) -> int:
    """Beat fan-out: queue task(org_id) once per organization and return how many. The one
    place that walks every organization, so each org's work is its own retried task."""
    org_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for org_id in org_ids:
        task.delay(org_id)
    return len(org_ids)
