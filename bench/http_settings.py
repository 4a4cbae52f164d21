"""The production settings plus one route for the HTTP benchmark (bench/decisions.py):
ROOT_URLCONF adds a bare Django JSON view at /bench/bare next to the real URLs. Only the
benchmark's gunicorn loads this module."""

from governance.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.bare_urls"
