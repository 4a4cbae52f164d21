"""The project's URLs plus /bench/bare: a bare Django JSON view, the benchmark's floor.
It goes first (the cheapest URL resolution) and does what any JSON endpoint must: parse
the body and answer JSON, through the same middleware as every other view."""

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from governance.urls import urlpatterns as project_urls


@csrf_exempt
def bare(request):
    body = json.loads(request.body or b"{}")
    return JsonResponse({"decision": "allow", "model": body.get("model")})


urlpatterns = [path("bench/bare", bare), *project_urls]
