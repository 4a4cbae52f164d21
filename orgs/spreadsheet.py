"""Helpers for CSV exports that users open in a spreadsheet (the audit log, the approval
matrix)."""

# A spreadsheet runs a cell that starts with one of these as a formula; names and emails
# come from users, so such cells get a leading apostrophe (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value):
        return value


def safe_cell(value) -> str:
    """value as CSV text that a spreadsheet never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
