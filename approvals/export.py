"""Exports of the approval matrix (issue #6 item 8): the filtered matrix as CSV (streamed)
or XLSX, with every column of a row. COLUMNS is the one list both formats write, so the
two files always agree.

Cells come from users (reasons, names, model ids), so both formats refuse to run them as
formulas: the CSV with the guard the audit export uses (orgs.spreadsheet.safe_cell), the
XLSX by writing every text as a string (write_string, strings_to_formulas off).
"""

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

import xlsxwriter

from approvals.models import PolicyRow
from orgs.spreadsheet import Echo, safe_cell

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Rows fetched per round trip; prefetches run per chunk, so memory stays flat.
CHUNK = 500


def _email(membership) -> str:
    return membership.user.email if membership is not None else ""


def _listed(values) -> str:
    return "; ".join(values or [])


def _credential(row: PolicyRow) -> str:
    if row.api_key_id:
        return f"api key: {row.api_key.name} ({row.api_key.prefix}…)"
    if row.workload_identity_id:
        return f"workload identity: {row.workload_identity.name}"
    return ""


def _signoffs(row: PolicyRow) -> str:
    """The live signatures, e.g. 'security: approve by sec@x (v2)'."""
    return "; ".join(f"{s.role}: {s.decision} by {s.signer_label} (v{s.row_version})"
                     for s in row.live_signoffs)


def _owner(name: str) -> Callable:
    return lambda row: _email(getattr(row, name))


def _amount(name: str) -> Callable:
    return lambda row: getattr(row, name)


# (header, value of a row). Values are str, int, Decimal, date, datetime or None.
COLUMNS: list[tuple[str, Callable]] = [
    ("row_id", lambda r: str(r.public_id)),
    ("project", lambda r: r.project.name),
    ("environment", lambda r: r.environment.name),
    ("environment_tier", lambda r: r.environment.tier),
    ("caller", lambda r: r.caller.name),
    ("credential", _credential),
    ("approved_models", lambda r: _listed(f"{e.platform}/{e.model_id}"
                                          for e in r.approved_models.all())),
    ("allowed_actions", lambda r: _listed(r.allowed_actions)),
    ("data_classes", lambda r: _listed(r.data_classes)),
    ("business_reason", lambda r: r.business_reason),
    ("daily_cap_usd", _amount("daily_cap")),
    ("monthly_budget_usd", _amount("monthly_budget")),
    ("rate_limit_per_minute", lambda r: r.rate_limit_per_minute),
    ("alert_thresholds_percent", lambda r: _listed(str(t) for t in r.alert_thresholds)),
    ("cutoff_behaviour", lambda r: r.cutoff_behaviour),
    ("cutoff_owner", _owner("cutoff_owner")),
    ("app_owner", _owner("app_owner")),
    ("engineering_owner", _owner("engineering_owner")),
    ("finance_owner", _owner("finance_owner")),
    ("evidence_owner", _owner("evidence_owner")),
    ("fallback_row", lambda r: str(r.fallback_row.public_id) if r.fallback_row_id else ""),
    ("renewal_date", lambda r: r.renewal_date),
    ("renewal_triggers", lambda r: _listed(r.renewal_triggers)),
    ("status", lambda r: r.status),
    ("suspended_from", lambda r: r.suspended_from),
    ("version", lambda r: r.version),
    ("requested_by", _owner("requested_by")),
    ("signoffs", _signoffs),
    ("created_at", lambda r: r.created_at),
    ("updated_at", lambda r: r.updated_at),
    ("status_changed_at", lambda r: r.status_changed_at),
    ("activated_at", lambda r: r.activated_at),
]
HEADER = [name for name, _ in COLUMNS]


def row_values(row: PolicyRow) -> list:
    """One row's cells, in COLUMNS order."""
    return [value(row) for _, value in COLUMNS]


def _rows(rows) -> Iterable[PolicyRow]:
    # A queryset from selectors.matrix_list: iterate in chunks, never the whole matrix.
    return rows.iterator(chunk_size=CHUNK) if hasattr(rows, "iterator") else rows


def _text(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_cell(value)


def csv_lines(rows) -> Iterable[str]:
    """The header and one CSV line per row, lazily, for a StreamingHttpResponse."""
    writer = csv.writer(Echo())
    yield writer.writerow(HEADER)
    for row in _rows(rows):
        yield writer.writerow([_text(v) for v in row_values(row)])


def _write_cell(sheet, r: int, c: int, value, formats) -> None:
    if value is None or value == "":
        return
    if isinstance(value, bool):
        sheet.write_boolean(r, c, value)
    elif isinstance(value, (int, Decimal)):
        sheet.write_number(r, c, value, formats["money"] if isinstance(value, Decimal)
                           else None)
    elif isinstance(value, datetime):
        # Excel has no time zones: timestamps are written in UTC.
        sheet.write_datetime(r, c, value.astimezone(UTC).replace(tzinfo=None),
                             formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(r, c, datetime(value.year, value.month, value.day),
                             formats["date"])
    else:
        sheet.write_string(r, c, str(value))


def xlsx_bytes(rows) -> bytes:
    """The matrix as one XLSX sheet ("Matrix"): a bold header, then one line per row;
    amounts and dates as numbers and dates, timestamps in UTC. constant_memory: each
    line goes to a temporary file as it is written."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    formats = {"money": book.add_format({"num_format": "0.00"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})}
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("Matrix")
    for c, name in enumerate(HEADER):
        sheet.write_string(0, c, name, bold)
    for r, row in enumerate(_rows(rows), start=1):
        for c, value in enumerate(row_values(row)):
            _write_cell(sheet, r, c, value, formats)
    book.close()
    return buffer.getvalue()
