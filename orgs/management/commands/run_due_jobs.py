from celery import current_app as app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Run every scheduled job (CELERY_BEAT_SCHEDULE) once, now, in this process. For "
            "operators and for the zero-setup run; each run is recorded as a job run.")

    def add_arguments(self, parser):
        parser.add_argument("--only", metavar="TASK", action="append",
                            help="Run only this task (repeatable), e.g. orgs.events_sweep.")

    def handle(self, *args, only=None, **options):
        app.loader.import_default_modules()  # registers every app's tasks
        schedule = settings.CELERY_BEAT_SCHEDULE
        # One run per task: a task may have several entries (a daily and an hourly one).
        names = list(dict.fromkeys(entry["task"] for entry in schedule.values()))
        unknown = set(only or []) - set(names)
        if unknown:
            raise CommandError(f"Not a scheduled job: {', '.join(sorted(unknown))}. "
                               f"Scheduled: {', '.join(names)}")
        failed = []
        for name in names:
            if only and name not in only:
                continue
            task = app.tasks[name]
            # Tasks wrapped by orgs.jobs.recorded note that this run was manual.
            kwargs = {"_trigger": "manual"} if getattr(task.run, "records_job", False) else {}
            try:
                result = task.apply(kwargs=kwargs)
                value = result.get(propagate=True)
            except Exception as exc:
                failed.append(name)
                self.stdout.write(self.style.ERROR(f"{name}: failed: {type(exc).__name__}: "
                                                   f"{exc}"))
            else:
                self.stdout.write(self.style.SUCCESS(f"{name}: ok ({value})"))
        if failed:
            raise CommandError(f"{len(failed)} job(s) failed: {', '.join(failed)}")
