"""The Content-Security-Policy header (django-csp): strict on every page (no inline
script, style attribute or eval), relaxed for styles on the two API doc pages only; and
no template brings back what the policy refuses."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def test_a_page_gets_the_strict_policy(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path,extra", [("/api/v1/docs/", {}),
                                        ("/api/v1/redoc/", {"worker-src": ["'self'", "blob:"]})])
def test_the_api_doc_pages_relax_styles_for_themselves_only(client, path, extra):
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]  # Swagger UI's init is a file
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    for name, sources in extra.items():
        assert directives[name] == sources
    assert "<script>" not in response.content.decode()


def test_the_api_answers_carry_the_policy_too(client):
    assert policy(client.get("/api/v1/no-such-thing/"))["default-src"] == ["'self'"]


# What the strict policy refuses: an inline <script> (one without src; JSON data blocks
# are not run), a <style> element or attribute, an on* handler attribute, a javascript:
# URL.
# Email templates are not served, so they keep their inline styles.
REFUSED = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|<style|\sstyle=|"
                     r"\son[a-z]+=|javascript:", re.IGNORECASE)


def refused(text: str) -> list[str]:
    return REFUSED.findall(text)


def test_no_served_template_has_what_the_policy_refuses():
    found = {str(p.relative_to(TEMPLATES)): refused(p.read_text())
             for p in TEMPLATES.rglob("*.html")
             if "email" not in p.parts and p.name != "pack_summary.html"}
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_the_template_check_finds_planted_inline_code():
    assert refused('<button onclick="go()">') == [' onclick=']
    assert refused("<script>alert(1)</script>") == ["<script>"]
    assert refused('<div style="width: 3%">') == [" style="]
    assert refused("<style>body { margin: 0 }</style>") == ["<style"]
    assert refused('<script src="/static/js/app.js"></script>') == []
