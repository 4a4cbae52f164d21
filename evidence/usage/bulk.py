"""The bulk write path of usage imports: checked lines are staged in chunks, then moved
into the real table by one statement that skips lines already there.

PostgreSQL: COPY (psycopg 3 `cursor.copy`) into a temporary table while the file is
being checked, then one INSERT ... SELECT ... ON CONFLICT (org_id, source, source_id) DO
NOTHING inside the write transaction. The temporary table is private to the session and
dropped afterwards, so a bad file leaves nothing anywhere. Other databases (SQLite in
development): batched bulk_create(ignore_conflicts=True) from rows kept in memory.
"""

import uuid

from django.db import connection

from evidence.models import BillingLine, UsageRecord

# The columns each line fills; the ones the whole import shares (CONSTANTS) are not
# copied per row but set once by the INSERT ... SELECT.
USAGE_COLUMNS = ("source_id", "occurred_at", "model", "provider", "action", "api_key_ref",
                 "project_ref", "environment_ref", "caller_ref", "api_key_id", "project_id",
                 "environment_id", "caller_id", "requests", "input_tokens", "output_tokens",
                 "cost_usd")
BILLING_COLUMNS = ("source_id", "period_start", "period_end", "provider", "model",
                   "project_ref", "project_id", "description", "amount_usd")
CONSTANTS = ("org_id", "source", "import_job_id", "imported_at")
CHUNK = 20_000  # rows held in memory before they are copied to the stage
BATCH_SIZE = 1_000  # rows per INSERT on other databases


class PostgresStage:
    """Rows copied into a temporary table, chunk by chunk (the connection cannot run other
    statements while a COPY is open, so a chunk is copied between look-ups)."""

    def __init__(self, model, columns, constants: dict):
        self.model, self.columns, self.constants = model, columns, constants
        self.table = f"usage_stage_{uuid.uuid4().hex[:12]}"
        self.buffer = []
        names = ", ".join(columns)
        # Table and column names are ours (constants and a random hex), never input.
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {self.table} AS SELECT {names} FROM "  # noqa: S608
                           f"{model._meta.db_table} WITH NO DATA")

    def add(self, row: tuple) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        with connection.cursor() as cursor, cursor.copy(
                f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            for row in self.buffer:
                copy.write_row(row)
        self.buffer = []

    def discard(self) -> None:
        self.buffer = []

    def insert(self) -> int:
        """Move the stage into the real table (inside the caller's transaction); the number
        of rows added, lines already imported being skipped."""
        self.flush()
        names = ", ".join(self.columns)
        fixed = ", ".join(CONSTANTS)
        values = [self.constants[name] for name in CONSTANTS]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {self.model._meta.db_table} ({fixed}, {names}) "  # noqa: S608
                           f"SELECT %s, %s, %s, %s, {names} FROM {self.table} "
                           "ON CONFLICT (org_id, source, source_id) DO NOTHING", values)
            return cursor.rowcount

    def close(self) -> None:
        self.buffer = []
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


class MemoryStage:
    """Rows kept in memory, then bulk-created in batches (development databases)."""

    def __init__(self, model, columns, constants: dict):
        self.model, self.columns, self.constants, self.rows = model, columns, constants, []

    def add(self, row: tuple) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        return None

    def discard(self) -> None:
        self.rows = []

    def insert(self) -> int:
        if not self.rows:
            return 0
        objects = (self.model(**self.constants, **dict(zip(self.columns, row, strict=True)))
                   for row in self.rows)
        self.model.objects.bulk_create(objects, batch_size=BATCH_SIZE, ignore_conflicts=True)
        return self.model.objects.for_org(self.constants["org_id"]).filter(
            import_job_id=self.constants["import_job_id"]).count()

    def close(self) -> None:
        self.rows = []


def stage_for(job, now):
    """The stage of job's lines (usage or billing), on this database's bulk path."""
    model, columns = ((UsageRecord, USAGE_COLUMNS) if job.kind == "usage"
                      else (BillingLine, BILLING_COLUMNS))
    constants = {"org_id": job.org_id, "source": job.source, "import_job_id": job.pk,
                 "imported_at": now}
    cls = PostgresStage if connection.vendor == "postgresql" else MemoryStage
    return cls(model, columns, constants)
