"""Job runs: every periodic task records when it ran, how it ended and what it counted.

Not tenant data (a run spans every org), so JobRun has no org; staff read it in the admin
(Organizations > Job runs). `manage.py run_due_jobs` runs every scheduled job once, now.
"""

import functools
import time

from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        ERROR = "error", "Error"

    task = models.CharField(max_length=100)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    trigger = models.CharField(max_length=16, default="beat",
                               help_text="beat, or manual (run_due_jobs)")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["task", "-started_at"])]

    def __str__(self):
        return f"{self.task} at {self.started_at:%Y-%m-%d %H:%M} ({self.outcome})"


def recorded(name: str):
    """Wrap a periodic task body so each run leaves a JobRun row named `name` (the task's
    Celery name), also when it fails. `_trigger="manual"` marks a run from run_due_jobs."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, _trigger="beat", **kwargs):
            return _run(name, _trigger, func, args, kwargs)

        wrapper.records_job = True
        return wrapper

    return decorator


def _run(name, trigger, func, args, kwargs):
    run = JobRun.objects.create(task=name, trigger=trigger)
    start = time.monotonic()
    try:
        value = func(*args, **kwargs)
    except Exception as exc:
        _finish(run, start, JobRun.Outcome.ERROR, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(run, start, JobRun.Outcome.OK,
            result=value if isinstance(value, dict) else {"count": value})
    return value


def _finish(run, start, outcome, *, result=None, error=""):
    JobRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), duration_ms=round((time.monotonic() - start) * 1000),
        outcome=outcome, result=result or {}, error=error[:500])
