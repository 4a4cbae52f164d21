from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """Sends people who signed up through an invitation link back to it."""

    def get_login_redirect_url(self, request):
        pending = request.session.pop("pending_invitation", None)
        if pending:
            return reverse("orgs:invitation_accept", args=[pending])
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return self.get_login_redirect_url(request)
