"""Email + password accounts through django-allauth: sign-up, verification, login, reset."""

import re

import pytest
from django.core import mail

from orgs.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://\S+")


def test_signup_requires_verifying_the_email(client):
    response = client.post("/accounts/signup/", {
        "email": "new.user@example.com", "password1": "a-long-passphrase-42",
        "password2": "a-long-passphrase-42"})
    assert response.status_code == 302
    assert User.objects.filter(email="new.user@example.com").exists()
    assert len(mail.outbox) == 1 and "new.user@example.com" in mail.outbox[0].to
    # Not signed in until the link is followed.
    assert client.get("/").status_code == 302
    confirm = LINK.search(mail.outbox[0].body).group(0)
    path = confirm.split("://", 1)[1].split("/", 1)[1]
    client.post("/" + path)
    response = client.get("/", follow=True)
    assert response.wsgi_request.user.email == "new.user@example.com"


def test_signup_with_taken_email_reveals_nothing_and_warns_the_owner(client):
    # Enumeration protection: the page looks like success, the real owner gets a notice.
    UserFactory(email="taken@example.com")
    client.post("/accounts/signup/", {
        "email": "taken@example.com", "password1": "a-long-passphrase-42",
        "password2": "a-long-passphrase-42"})
    assert User.objects.filter(email="taken@example.com").count() == 1
    assert mail.outbox[0].to == ["taken@example.com"]


def test_signup_with_weak_password_is_refused(client):
    response = client.post("/accounts/signup/", {
        "email": "other@example.com", "password1": "short", "password2": "short"})
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(email="other@example.com").exists()


def test_login_and_logout(client):
    user = UserFactory(email="ann@example.com")
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/logout/").status_code == 200  # confirmation page
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(email="ann@example.com")
    response = client.post("/accounts/login/", {"login": "ann@example.com", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_password_reset_sends_a_working_link(client):
    user = UserFactory(email="ann@example.com")
    client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = LINK.search(mail.outbox[0].body).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    response = client.get(path, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else path
    response = client.post(form_url, {"password1": "brand-new-passphrase-7",
                                      "password2": "brand-new-passphrase-7"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-passphrase-7")
