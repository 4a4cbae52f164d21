"""Browser tests: real Chromium (Debian's /usr/bin/chromium) through Playwright against
pytest-django's live_server. Mark each test `@pytest.mark.browser`; the launch options
come from tests/components.py."""
