"""Job runs are recorded, and run_due_jobs runs every scheduled job once."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orgs.jobs import JobRun
from orgs.models import Invitation
from orgs.roles import Role
from orgs.services import invitation_create

pytestmark = pytest.mark.django_db


def test_run_due_jobs_runs_every_scheduled_job_and_records_it(personas, org_a, capsys):
    invitation, _ = invitation_create(org=org_a, actor=personas["owner"], email="x@example.com",
                                      role=Role.MEMBER)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(days=40))
    call_command("run_due_jobs")
    out = capsys.readouterr().out
    assert "orgs.expire_stale_credentials: ok" in out and "orgs.events_sweep: ok" in out
    runs = {r.task: r for r in JobRun.objects.all()}
    assert set(runs) >= {"orgs.expire_stale_credentials", "orgs.events_sweep"}
    assert all(r.outcome == "ok" and r.trigger == "manual" and r.finished_at for r in
               runs.values())
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None  # the eager fan-out did the org's work


def test_run_due_jobs_only_and_unknown(capsys):
    call_command("run_due_jobs", only=["orgs.events_sweep"])
    assert JobRun.objects.get().task == "orgs.events_sweep"
    with pytest.raises(CommandError, match="Not a scheduled job"):
        call_command("run_due_jobs", only=["nope"])


def test_a_failing_job_is_recorded_as_an_error(monkeypatch):
    from orgs import tasks

    class Broken:
        class objects:  # noqa: N801  (stands in for a manager)
            @staticmethod
            def all_orgs():
                raise RuntimeError("database on fire")

    monkeypatch.setattr(tasks, "NotificationEvent", Broken)
    with pytest.raises(CommandError, match="1 job"):
        call_command("run_due_jobs", only=["orgs.events_sweep"])
    run = JobRun.objects.get()
    assert run.outcome == "error" and "database on fire" in run.error
