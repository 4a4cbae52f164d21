"""Route smoke tests against the OpenAI-compatible stub on 127.0.0.1 (tests/gateway_stub.py):
one request per action and model, results as evidence that closes (or keeps open) the
checklist, failures recorded and shown, the rollback test, idempotent runs, who may run."""

import socket
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.checklist import row_checklist
from approvals.models import Finding, PolicyRow, RowEvidence, SmokeResult, SmokeRun
from approvals.services.smoke import smoke_run_execute, smoke_run_start
from evidence.gateway import gateway_config_update
from evidence.models import EvidenceItem
from orgs.audit import AuditEvent
from tests.approvals.conftest import make_entry
from tests.conftest import login

K = EvidenceItem.Kind
S_TESTING = PolicyRow.Status.TESTING
ALL_ACTIONS = ["chat", "chat_stream", "responses", "embeddings", "image", "tool_calls"]


@pytest.fixture
def gateway(org_a, people, gateway_stub, loopback_allowed):  # the stub is on loopback
    return gateway_config_update(org=org_a, actor=people["admin"], base_url=gateway_stub.base_url,
                                 key=gateway_stub.key, timeout_seconds=1)


@pytest.fixture
def models(snapshot):
    return {
        "omni": make_entry(snapshot, "gpt-omni", families=("chat_completions", "responses")),
        "embed": make_entry(snapshot, "text-embed", families=("embeddings",)),
        "image": make_entry(snapshot, "img-gen", families=("image_generation",)),
        "mini": make_entry(snapshot, "gpt-mini"),
    }


def with_models(row, entries, actions):
    """Give a row models and actions no single model serves (row_create refuses that
    mix; the smoke plan must pick the models that serve each action)."""
    row.approved_models.set(entries)
    PolicyRow.objects.filter(pk=row.pk).update(allowed_actions=actions)
    row.refresh_from_db()
    return row


@pytest.fixture
def fallback(make_row, models):
    return make_row(models=[models["mini"]], allowed_actions=["chat"],
                    business_reason="Fallback route")


def set_fallback(row, fallback):
    PolicyRow.objects.filter(pk=row.pk).update(fallback_row=fallback)
    row.refresh_from_db()
    return row


def run_smoke(row, actor, capture):
    with capture(execute=True):  # the task runs eagerly after commit
        run = smoke_run_start(org=row.org, actor=actor, row=row)
    run.refresh_from_db()
    return run


def lines(row):
    return {(line.kind, line.action): line for line in row_checklist(row).lines}


def run_url(run):
    return reverse("approvals:smoke_run", args=[run.org.slug, run.row.public_id,
                                                run.public_id])


# --- A run that passes ---------------------------------------------------------------------


def test_a_run_sends_one_request_per_action_and_serving_model_and_records_evidence(
        make_row, models, people, gateway, gateway_stub, fallback,
        django_capture_on_commit_callbacks):
    row = with_models(make_row(S_TESTING, evidence=False),
                      [models["omni"], models["embed"], models["image"]], ALL_ACTIONS)
    set_fallback(row, fallback)
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)

    assert run.status == SmokeRun.Status.PASSED and run.progress == run.total == 8
    assert gateway_stub.paths() == [
        ("/v1/chat/completions", "gpt-omni"), ("/v1/chat/completions", "gpt-omni"),
        ("/v1/responses", "gpt-omni"), ("/v1/embeddings", "text-embed"),
        ("/v1/images/generations", "img-gen"), ("/v1/chat/completions", "gpt-omni"),
        ("/v1/chat/completions", "gpt-mini"),  # the fallback row's model for chat
        ("/v1/chat/completions", "gpt-mini")]  # the rollback test
    sent = gateway_stub.requests
    assert sent[1]["body"]["stream"] is True and "tools" in sent[5]["body"]
    assert all(r["authorization"] == f"Bearer {gateway_stub.key}" for r in sent)

    results = list(SmokeResult.objects.for_org(row.org).filter(run=run))
    assert all(r.passed and r.http_status == 200 and r.latency_ms is not None
               for r in results)
    by_action = {r.action: r for r in results if not r.fallback}
    assert by_action["chat_stream"].shape == "2 content deltas, then [DONE]"
    assert by_action["chat_stream"].usage["total_tokens"] == 14
    assert by_action["embeddings"].shape == "vector of 4 dimensions"
    assert by_action["image"].shape.startswith("b64_json image")
    assert by_action["tool_calls"].shape.startswith("tool call get_weather")
    assert by_action["responses"].usage == {"input_tokens": 12, "output_tokens": 1,
                                            "total_tokens": 13}

    items = [link.item for link in RowEvidence.objects.for_org(row.org).filter(row=row)]
    assert sorted(i.action for i in items if i.kind == K.SMOKE_TEST) == sorted(
        ALL_ACTIONS + ["chat"])
    assert {i.collector_label for i in items} == {"system"}
    chat = next(i for i in items if i.action == "chat" and not i.content["fallback"])
    assert chat.content["passed"] is True and chat.content["run"] == str(run.public_id)
    assert chat.content["request"]["url"] == gateway_stub.base_url + "/chat/completions"
    assert gateway_stub.key not in str([i.content for i in items])

    checklist = lines(row)
    for action in ALL_ACTIONS:
        assert checklist[(K.SMOKE_TEST, action)].state == "pending"  # present, awaiting review
    rollback = checklist[(K.ROLLBACK_TEST, "")]
    assert rollback.state == "pending" and rollback.item.content["fallback_row"] == str(
        fallback.public_id)
    assert not Finding.objects.for_org(row.org).exists()


def test_starting_a_run_is_audited_and_each_result_names_its_item(
        row, people, gateway, django_capture_on_commit_callbacks):
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    actions = list(AuditEvent.objects.for_org(row.org).filter(object_id=str(row.public_id))
                   .order_by("seq").values_list("action", flat=True))
    assert actions[-4:] == ["approval.smoke_run_started", "approval.smoke_tested",
                            "approval.smoke_tested", "approval.smoke_run_finished"]
    tested = AuditEvent.objects.for_org(row.org).filter(action="approval.smoke_tested").first()
    assert tested.actor_id is None and tested.changes["passed"] == [None, True]
    assert run.notes == ["Rollback test: the row has no fallback row, so there is nothing "
                         "to switch to."]


# --- Failures ------------------------------------------------------------------------------


@pytest.fixture
def failing_row(make_row, snapshot, row):
    broken = [make_entry(snapshot, name) for name in
              ("error-500", "error-400", "slow", "bad-shape", "not-json")]
    return with_models(row, [*row.approved_models.all(), *broken], ["chat"])


def test_failures_are_recorded_shown_and_keep_the_line_open(
        client, failing_row, people, gateway, django_capture_on_commit_callbacks):
    run = run_smoke(failing_row, people["owner"], django_capture_on_commit_callbacks)

    assert run.status == SmokeRun.Status.FAILED
    assert (run.passed_count, run.failed_count) == (1, 5)
    errors = dict(SmokeResult.objects.for_org(run.org).filter(run=run)
                  .values_list("model", "error"))
    assert errors == {
        "gpt-chat": "",
        "error-500": "HTTP 500: The server had an error while processing your request. "
                     "(server_error)",
        "error-400": "HTTP 400: The model `error-400` does not exist. (invalid_request_error)",
        "slow": "Timed out after 1 s.",
        "bad-shape": "The response has no choices[0].",
        "not-json": "The response is not JSON.",
    }
    # One passed model does not close the line: the run's tests of chat are judged together.
    chat = lines(failing_row)[(K.SMOKE_TEST, "chat")]
    assert chat.blocking and chat.problem.endswith("no passed smoke test attached")
    finding = Finding.objects.for_org(run.org).get(kind=Finding.Kind.SMOKE_TEST_FAILED)
    assert finding.row == failing_row and finding.link == run_url(run)

    login(client, people["auditor"])
    response = client.get(run_url(run))
    assert response.status_code == 200
    body = response.content.decode()
    assert "5 of 6 requests failed" in body and "Timed out after 1 s." in body
    assert "The model `error-400` does not exist." in body


def test_a_refused_connection_is_a_failed_result_not_an_error_page(
        client, row, people, gateway, django_capture_on_commit_callbacks):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway_config_update(org=row.org, actor=people["admin"], timeout_seconds=1,
                          base_url=f"http://127.0.0.1:{port}/v1")
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    result = SmokeResult.objects.for_org(row.org).get(run=run, action="chat")
    assert run.status == SmokeRun.Status.FAILED and result.http_status is None
    assert result.error == "Could not connect to the gateway (connection refused)."
    login(client, people["owner"])
    assert "connection refused" in client.get(run_url(run)).content.decode()


def test_a_newer_passing_run_closes_the_line_again(
        make_row, snapshot, people, gateway, django_capture_on_commit_callbacks):
    flaky = make_entry(snapshot, "error-500")
    row = make_row(models=[flaky], allowed_actions=["chat"])
    run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    assert lines(row)[(K.SMOKE_TEST, "chat")].blocking
    with_models(row, [make_entry(snapshot, "gpt-fixed")], ["chat"])
    run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    assert not lines(row)[(K.SMOKE_TEST, "chat")].blocking


def test_a_failed_rollback_test_does_not_close_the_rollback_line(
        make_row, snapshot, row, people, gateway, django_capture_on_commit_callbacks):
    broken_fallback = make_row(models=[make_entry(snapshot, "error-500")],
                               allowed_actions=["chat"])
    set_fallback(row, broken_fallback)
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    rollback = SmokeResult.objects.for_org(row.org).get(run=run, kind=K.ROLLBACK_TEST)
    assert not rollback.passed and rollback.item.content["passed"] is False
    assert lines(row)[(K.ROLLBACK_TEST, "")].state == "missing"


def test_actions_without_a_synthetic_request_are_noted_not_sent(
        make_row, people, gateway, gateway_stub, django_capture_on_commit_callbacks):
    row = make_row(allowed_actions=["chat", "batch"])
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    assert gateway_stub.paths() == [("/v1/chat/completions", "gpt-chat")]
    assert run.notes[0] == ("Batch: no synthetic request for this action; attach its smoke "
                            "test by hand.")
    assert lines(row)[(K.SMOKE_TEST, "batch")].blocking


# --- No gateway, refused gateway -----------------------------------------------------------


def start_url(row):
    return reverse("approvals:row_smoke_start", args=[row.org.slug, row.public_id])


def test_without_a_gateway_the_row_page_says_so_and_links_the_settings(client, row, people):
    login(client, people["owner"])
    settings_url = reverse("evidence:gateway_settings", args=["acme"])
    body = client.get(reverse("approvals:row_detail", args=["acme", row.public_id])) \
        .content.decode()
    assert "No gateway is configured for smoke tests yet." in body and settings_url in body
    assert "Run smoke tests" not in body

    response = client.post(start_url(row))
    assert response.status_code == 400
    assert settings_url in response.content.decode()
    htmx = client.post(start_url(row), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 422 and 'id="smoke-error"' in htmx.content.decode()
    assert not SmokeRun.objects.for_org(row.org).exists()
    with pytest.raises(ValidationError) as exc:
        smoke_run_start(org=row.org, actor=people["owner"], row=row)
    assert "gateway" in exc.value.message_dict


def test_a_gateway_refused_by_the_ssrf_rule_at_run_time_ends_the_run_with_the_reason(
        row, people, gateway, gateway_stub, settings, django_capture_on_commit_callbacks):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # e.g. the deployment turned it off
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    assert run.status == SmokeRun.Status.ERROR
    assert "127.0.0.1 resolves to 127.0.0.1, a loopback" in run.error
    assert gateway_stub.requests == []


# --- The run page and the row page -----------------------------------------------------------


def test_the_button_posts_and_htmx_goes_to_the_run_page(
        client, row, people, gateway, django_capture_on_commit_callbacks):
    login(client, people["owner"])
    body = client.get(reverse("approvals:row_detail", args=["acme", row.public_id])) \
        .content.decode()
    assert "Run smoke tests" in body and 'hx-post="' + start_url(row) in body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start_url(row), HTTP_HX_REQUEST="true")
    run = SmokeRun.objects.for_org(row.org).get()
    assert response.status_code == 200 and run_url(run) in response["HX-Location"]
    page = client.get(run_url(run)).content.decode()
    assert "Every request passed: 2 of 2" in page
    assert '<td class="small">13</td>' in page  # the chat's total tokens
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "smoke-progress"}
    partial = client.get(run_url(run), **poll).content.decode()
    assert partial.lstrip().startswith('<section id="smoke-progress"')
    assert "hx-trigger" not in partial  # done: no more polling
    # The HX-Location after the button is an htmx request too: it gets the whole page.
    assert "<nav" in client.get(run_url(run), HTTP_HX_REQUEST="true").content.decode()
    row_page = client.get(reverse("approvals:row_detail", args=["acme", row.public_id]))
    assert "2 passed, 0 failed" in row_page.content.decode()


def test_a_running_run_is_polled_and_shows_its_progress(client, row, people, gateway):
    run = smoke_run_start(org=row.org, actor=people["owner"], row=row)  # no worker yet
    login(client, people["auditor"])
    partial = client.get(run_url(run), HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="smoke-progress").content.decode()
    assert 'hx-trigger="every 1s"' in partial and "waiting for a worker" in partial


# Run page: session, user, membership + org (+ unread count), the org switcher; the row
# with its page relations, its models, its signatures; the run; its results.
RUN_PAGE_QUERIES = 9


@pytest.mark.parametrize("extra_models", [0, 12])
def test_run_page_queries_do_not_grow_with_results(
        client, row, snapshot, people, gateway, extra_models, django_assert_num_queries,
        django_capture_on_commit_callbacks):
    with_models(row, [*row.approved_models.all(),
                      *[make_entry(snapshot, f"gpt-{n}") for n in range(extra_models)]],
                ["chat"])
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    login(client, people["owner"])
    client.get(run_url(run))
    with django_assert_num_queries(RUN_PAGE_QUERIES):
        response = client.get(run_url(run))
    assert len(response.context["results"]) == 1 + extra_models


# --- Who may run, and idempotency -----------------------------------------------------------


@pytest.mark.parametrize(("persona", "allowed"), [
    ("owner", True),  # the row's evidence and engineering owner (row_fields)
    ("admin", True),  # platform
    ("requester", False), ("app_owner", False), ("security", False), ("auditor", False)])
def test_who_may_start_a_run(client, row, people, gateway, persona, allowed):
    if allowed:
        assert smoke_run_start(org=row.org, actor=people[persona], row=row).total == 2
        return
    with pytest.raises(PermissionDenied):
        smoke_run_start(org=row.org, actor=people[persona], row=row)
    login(client, people[persona])
    assert client.post(start_url(row)).status_code == 403
    assert "Run smoke tests" not in client.get(
        reverse("approvals:row_detail", args=["acme", row.public_id])).content.decode()


def test_the_outsider_gets_404(client, row, outsider, people, gateway):
    run = smoke_run_start(org=row.org, actor=people["owner"], row=row)
    login(client, outsider)
    assert client.get(run_url(run)).status_code == 404
    assert client.post(start_url(row)).status_code == 404


def test_a_second_start_while_one_runs_returns_the_same_run(row, people, gateway):
    first = smoke_run_start(org=row.org, actor=people["owner"], row=row)
    assert smoke_run_start(org=row.org, actor=people["admin"], row=row) == first


def test_a_finished_run_is_not_run_again(row, people, gateway, gateway_stub,
                                         django_capture_on_commit_callbacks):
    run = run_smoke(row, people["owner"], django_capture_on_commit_callbacks)
    sent = len(gateway_stub.requests)
    assert smoke_run_execute(org=row.org, run_id=run.pk) is None
    assert len(gateway_stub.requests) == sent
    assert SmokeResult.objects.for_org(row.org).filter(run=run).count() == run.total


def test_a_redelivered_task_continues_where_the_dead_worker_stopped(
        row, people, gateway, gateway_stub, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = smoke_run_start(org=row.org, actor=people["owner"], row=row)
    # Make it look as if the worker died after the first request: drop the second result
    # and put the run back to running with an old heartbeat.
    SmokeResult.objects.for_org(row.org).filter(run=first, position=1).delete()
    SmokeRun.objects.for_org(row.org).filter(pk=first.pk).update(
        status=SmokeRun.Status.RUNNING, finished_at=None, progress=1, passed_count=1,
        heartbeat_at=timezone.now() - timedelta(hours=1))
    gateway_stub.requests.clear()
    # A live worker (fresh heartbeat) is left alone.
    SmokeRun.objects.for_org(row.org).filter(pk=first.pk).update(heartbeat_at=timezone.now())
    assert smoke_run_execute(org=row.org, run_id=first.pk) is None
    SmokeRun.objects.for_org(row.org).filter(pk=first.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1))
    run = smoke_run_execute(org=row.org, run_id=first.pk)
    assert gateway_stub.paths() == [("/v1/chat/completions", "gpt-chat")]  # only position 1
    assert run.status == SmokeRun.Status.PASSED and run.progress == 2


def test_a_newer_failed_smoke_test_reopens_its_line_even_by_hand(make_row, people):
    from approvals.services.evidence import row_evidence_collect

    row = make_row(allowed_actions=["chat"])
    for passed in (True, False):
        row_evidence_collect(org=row.org, actor=people["owner"], row=row, kind=K.SMOKE_TEST,
                             title=f"Chat test ({passed})", action="chat",
                             content={"passed": passed})
    assert lines(row)[(K.SMOKE_TEST, "chat")].blocking
    row_evidence_collect(org=row.org, actor=people["owner"], row=row, kind=K.SMOKE_TEST,
                         title="Chat test, fixed", action="chat", content={"passed": True})
    assert lines(row)[(K.SMOKE_TEST, "chat")].item.title == "Chat test, fixed"
