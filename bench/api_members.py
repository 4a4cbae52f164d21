"""The members list API against a bare Django JSON endpoint, in the same run.

    .venv/bin/python bench/api_members.py [N] [MEMBERS]   (DATABASE_URL picks the database)

Both go through the full middleware stack with a signed-in session. The bare endpoint
returns a constant JsonResponse; the difference is DRF, org resolution, the query and
serialisation of one page of members.
"""

import sys
import time

from _setup import report, test_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
MEMBERS = int(sys.argv[2]) if len(sys.argv) > 2 else 50

with test_database() as vendor:
    from django.http import JsonResponse
    from django.test import Client, override_settings
    from django.urls import include, path

    from orgs.models import Membership, User
    from orgs.services import org_create

    def bare(request):
        return JsonResponse({"ok": True})

    def bare_user(request):
        # Same, but loads the session and the user, as every authenticated view must.
        return JsonResponse({"user": request.user.email})

    class urls:  # a URLconf module stand-in: the app's URLs plus the bare endpoints
        urlpatterns = [path("bench/bare/", bare), path("bench/user/", bare_user),
                       path("", include("governance.urls"))]

    owner = User.objects.create_user("owner@bench.test", "x")
    org = org_create(user=owner, name="Bench", slug="bench")
    Membership.objects.bulk_create([
        Membership(org=org, user=User.objects.create_user(f"m{i}@bench.test", "x"))
        for i in range(MEMBERS - 1)
    ])
    client = Client()
    client.force_login(owner)
    rows = []
    with override_settings(ROOT_URLCONF=urls):
        for label, url in (("baseline: bare Django JSON view", "/bench/bare/"),
                           ("baseline: bare view + session user", "/bench/user/"),
                           (f"GET members ({MEMBERS} rows)", "/api/v1/o/bench/members/"),
                           ("GET members (page_size=5)",
                            "/api/v1/o/bench/members/?page_size=5")):
            assert client.get(url).status_code == 200
            start = time.perf_counter()
            for _ in range(N):
                client.get(url)
            rows.append((label, N, time.perf_counter() - start))
    print(f"database: {vendor}")
    report(rows)
    print(f"members list ({MEMBERS} rows) costs {rows[2][2] / rows[1][2]:.1f}x the bare "
          f"view with a session user")
