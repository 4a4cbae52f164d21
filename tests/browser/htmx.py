"""Wait for an htmx swap to finish, not only for its response.

Playwright's ``expect_response`` returns once the response has arrived; htmx swaps the
new HTML in a moment later. A test that picks the next option in between has its choice
replaced by the swap, as a quick user would. ``settled`` waits for the swap itself."""

import re
from contextlib import contextmanager

from playwright.sync_api import Page

_LISTEN = """(source) => {
  const pattern = new RegExp(source);
  window.__htmxSettled = false;
  const done = (event) => {
    const path = (event.detail.pathInfo || {}).requestPath || "";
    if (pattern.test(path)) {
      window.__htmxSettled = true;
      document.removeEventListener("htmx:afterSettle", done);
    }
  };
  document.addEventListener("htmx:afterSettle", done);
}"""


@contextmanager
def settled(page: Page, path: str):
    """Run the block, then wait until htmx has swapped in a response whose request path
    matches the regular expression ``path``."""
    page.evaluate(_LISTEN, path)
    with page.expect_response(re.compile(path)):
        yield
    # A function, not an expression: Playwright evals an expression inside the page,
    # which the Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function("() => window.__htmxSettled === true")
