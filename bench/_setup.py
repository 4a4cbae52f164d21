"""Shared set-up for benchmarks: Django on a throwaway test database."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("FAST_PASSWORD_HASHER", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


@contextmanager
def test_database():
    """Create test_<name>, yield, drop it: benchmarks never touch real data."""
    setup_test_environment()
    old = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection.vendor
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)


def report(rows):
    width = max(len(r[0]) for r in rows)
    for name, n, seconds in rows:
        print(f"{name:<{width}}  {n:>6} ops  {seconds * 1000 / n:8.3f} ms/op  "
              f"{n / seconds:10.1f} ops/s")
