"""Route smoke tests of a row: start a run (POST, htmx) and the run page with its
progress (htmx polls the progress partial every second until the run is done).

Everyone in the org reads runs (approvals:read); the service decides who may start one
(permissions.can_run_smoke_tests) and refuses an org without a gateway with a field
error, which the row's smoke section shows with a link to the gateway settings."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals import selectors
from approvals.services.smoke import smoke_run_start
from approvals.smoke_tests import row_smoke_context, smoke_run_get
from approvals.views.rows import _page_context as row_page_context
from orgs.decorators import org_view
from orgs.views import done, wants_partial


@require_POST
@org_view(scope="approvals:read")
def row_smoke_start(request, public_id):
    """Start (or rejoin) the row's smoke run and go to its page."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    try:
        run = smoke_run_start(org=request.org, actor=request.membership, row=row)
    except ValidationError as exc:
        smoke = row_smoke_context(row=row, actor=request.membership,
                                  error=" ".join(exc.messages))
        if wants_partial(request):  # the section again, with the reason (htmx swaps 422)
            return render(request, "approvals/_row_smoke.html", {"row": row, **smoke},
                          status=422)
        context = {**row_page_context(request, row), **smoke}
        return render(request, "approvals/row_detail.html", context, status=400)
    url = reverse("approvals:smoke_run", args=[request.org.slug, row.public_id, run.public_id])
    return done(request, url, "Smoke tests started." if not run.is_done else "Smoke run.")


@org_view(scope="approvals:read")
def smoke_run_detail(request, public_id, run_id):
    """A run's progress and results; the htmx poll gets the progress partial only."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    run = smoke_run_get(org=request.org, row=row, public_id=run_id)
    # Only the poll (whose target is the progress section) gets the partial: the
    # HX-Location that follows "Run smoke tests" is an htmx request for the whole page.
    poll = wants_partial(request) and request.htmx.target == "smoke-progress"
    template = "approvals/smoke_run.html" + ("#progress" if poll else "")
    return render(request, template, {"row": row, "run": run,
                                      "results": list(run.results.all())})
