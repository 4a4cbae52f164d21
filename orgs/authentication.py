"""Personal API tokens for scripts: `Authorization: Bearer gvp_...`.

Failed attempts (a malformed header, an unknown, expired or revoked token) count against
the client address (orgs/ratelimit.py, settings.FAILED_TOKEN_AUTH_RATE, shared with team
keys); once the address used them up, every token attempt from it gets 429 with
Retry-After until the window ends, before any lookup, as failed sign-ins are throttled.
"""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from orgs import ratelimit
from orgs.middleware import client_ip
from orgs.models import PersonalToken, hash_secret

# last_used_at is written at most once a minute per token, so a busy script does not
# turn every API call into a database write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        address = client_ip(request)
        if wait := ratelimit.failed_auth_blocked(address):
            raise exceptions.Throttled(wait, ratelimit.FAILED_AUTH_MESSAGE)
        if len(header) != 2 or not header[1].startswith(PersonalToken.PREFIX):
            ratelimit.failed_auth_record(address)
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header. Use: Authorization: Bearer gvp_..."
            )
        token = (
            PersonalToken.objects.select_related("user")
            .filter(token_hash=hash_secret(header[1])).first()
        )
        if token is None or not token.is_active or not token.user.is_active:
            ratelimit.failed_auth_record(address)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
