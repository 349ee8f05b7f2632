"""Exports of purchases: CSV files written in the background.

Staff start one from the API (``POST /api/v1/purchases/exports/``: the
list's filters and order) or from the admin (the changelist's filters,
search and order). Either way it is a job (core.jobs): the task
``purchases.tasks.purchases_export_job`` writes the file to the "jobs"
storage, and whoever started it follows the job and downloads the file
through its expiring link.

The task reads the rows with one query through a server-side cursor (in a
transaction on PostgreSQL, where the cursor then hands rows out as the scan
finds them), writes them to a temporary file and stores it whole: the file
is one snapshot of the rows, however many. It does not stop at
JOB_SLICE_SECONDS: a cursor cannot be carried over to the next message, and
slices read by separate queries would not be one snapshot. Run again (a
worker lost mid-way), it writes the file anew.

Two dialects:

- ``plain``, for programs: comma-separated UTF-8 without a byte-order mark,
  numbers with a decimal point and no grouping, ISO 8601 dates
  (``2026-03-15``) and date-times (local time with its offset,
  ``2026-03-15T10:30:00-03:00``).
- ``pt-BR``, for spreadsheets in Brazilian Portuguese (Excel, LibreOffice):
  semicolon-separated UTF-8 with a byte-order mark (so that accents read
  right), decimal comma and no grouping (``1202,14``), dates ``dd/mm/aaaa``
  and date-times ``dd/mm/aaaa hh:mm:ss`` in local time.

In both, every field is quoted and no cell can start a formula
(core.spreadsheet); the header and the statuses are in the language of
whoever started the export; the reseller's CPF is never written.
"""

import io
import logging
import tempfile
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import File
from django.db import DatabaseError, connections, router, transaction
from django.db.models import QuerySet
from django.utils import formats, timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.exceptions import ConflictError
from core.jobs import job_progress, job_save_file, job_start
from core.models import Job
from core.spreadsheet import spreadsheet_writer
from purchases.filters import PurchaseFilter, purchase_ordering
from purchases.models import Purchase

logger = logging.getLogger(__name__)

EXPORT_TASK = "purchases.tasks.purchases_export_job"
# What reading the job (and downloading its file) needs: the rows are purchases.
EXPORT_PERMISSION = "purchases.view_purchase"

PLAIN = "plain"
PT_BR = "pt-BR"
DIALECT_CHOICES = [
    (PLAIN, _("Plain: comma-separated, decimal point, ISO dates (for programs)")),
    (PT_BR, _("Brazilian spreadsheet: semicolon-separated, decimal comma, dd/mm/yyyy dates")),
]

TOO_MANY_EXPORTS_MESSAGE = (
    "You already have %(count)d export in progress. Wait for it to finish.",
    "You already have %(count)d exports in progress. Wait for one of them to finish.",
)
# An export queued or running for longer than this is presumed lost (its
# worker gone for good): it no longer counts against the limit.
EXPORT_PRESUMED_LOST_AFTER = timedelta(hours=1)

FETCH_SIZE = 2000  # rows read from the cursor at a time
PROGRESS_EVERY = 10_000  # rows written between two progress updates


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal_comma: bool
    byte_order_mark: bool
    # Day first (dd/mm/aaaa) or ISO 8601.
    day_first: bool


DIALECTS = {
    PLAIN: Dialect(delimiter=",", decimal_comma=False, byte_order_mark=False, day_first=False),
    PT_BR: Dialect(delimiter=";", decimal_comma=True, byte_order_mark=True, day_first=True),
}

# The columns, in order: the purchase, whose it is (never the CPF: a
# spreadsheet travels further than the back office) and its review.
EXPORT_COLUMNS = (
    ("id", _("id")),
    ("code", _("code")),
    ("date", _("date")),
    ("value", _("value")),
    ("status", _("status")),
    ("cashback_percent", _("cashback percent")),
    ("cashback_value", _("cashback value")),
    ("reseller_id", _("reseller id")),
    ("reseller__user__full_name", _("reseller name")),
    ("reseller__user__email", _("reseller e-mail")),
    ("reviewed_by__full_name", _("reviewed by")),
    ("reviewed_by__email", _("reviewer e-mail")),
    ("reviewed_at", _("reviewed at")),
    ("rejection_reason", _("rejection reason")),
)


# --- Starting one -----------------------------------------------------------------


def purchase_export_start(*, user: User, dialect: str, params: dict, description: str) -> Job:
    """A queued export job (its task sent once the current transaction
    commits) for ``params``: what the task needs to find the rows (the
    API's filters for ``purchase_export_list``, or the admin's changelist
    query), plus the dialect and the current language.

    A person has at most PURCHASE_EXPORTS_PER_USER exports queued or running
    at once; one more is a ConflictError (409)."""
    if dialect not in DIALECTS:
        raise ValueError(f"Unknown dialect: {dialect!r}")
    with transaction.atomic():
        # One start at a time per person, so that the count below holds.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        in_progress = Job.objects.filter(
            created_by=user,
            kind=Job.Kind.PURCHASE_EXPORT,
            status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
            created_at__gte=timezone.now() - EXPORT_PRESUMED_LOST_AFTER,
        ).count()
        if in_progress >= settings.PURCHASE_EXPORTS_PER_USER:
            message = ngettext(*TOO_MANY_EXPORTS_MESSAGE, in_progress) % {"count": in_progress}
            raise ConflictError(message)
        return job_start(
            kind=Job.Kind.PURCHASE_EXPORT,
            task=EXPORT_TASK,
            user=user,
            permission=EXPORT_PERMISSION,
            description=description,
            params={
                **params,
                "dialect": dialect,
                "language": translation.get_language() or settings.LANGUAGE_CODE,
            },
        )


def export_description(dialect: str, details: Iterable[str]) -> str:
    """What the jobs page says of an export: its dialect and its filters."""
    details = [detail for detail in details if detail]
    text = f"{gettext('Export of purchases')} (CSV {dialect})"
    return f"{text}: {'; '.join(details)}" if details else text


# --- The rows ---------------------------------------------------------------------


def purchase_export_list(*, filters: dict, ordering: str) -> QuerySet[Purchase]:
    """The staff's purchase list for the filters and order of the API's
    query (``GET /api/v1/purchases/``): the same FilterSet and the same
    order, so the same rows in the same order."""
    filterset = PurchaseFilter(data=filters, queryset=Purchase.objects.all())
    if not filterset.is_valid():
        # They were validated when the export started, by this FilterSet.
        raise ValueError(f"Invalid export filters: {sorted(filterset.errors)}")
    return filterset.qs.order_by(*purchase_ordering(ordering))


# --- Writing the file ---------------------------------------------------------------


def purchase_export_write(job: Job, purchases: QuerySet[Purchase]) -> None:
    """Write ``purchases`` (filtered and ordered) as the job's CSV file in its
    dialect and language, with its progress along the way."""
    dialect = DIALECTS[job.params.get("dialect", PLAIN)]
    total = purchases.count()
    job_progress(job, done=0, total=total)
    rows = purchases.values_list(*(name for name, _title in EXPORT_COLUMNS))
    header = [capfirst(str(title)) for _name, title in EXPORT_COLUMNS]
    cells = _row_cells(dialect)
    written = 0
    with tempfile.TemporaryFile() as raw, _Progress(job, reading=rows.db) as progress:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if dialect.byte_order_mark:
            text.write("\ufeff")
        writer = spreadsheet_writer(text, delimiter=dialect.delimiter)
        writer.writerow(header)
        with _reading(rows.db):
            for row in rows.iterator(chunk_size=FETCH_SIZE):
                writer.writerow(cells(row))
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(written)
        text.flush()
        text.detach()  # the file stays open; the wrapper is done with it
        size = raw.tell()
        job_progress(job, done=written, total=written)
        name = f"exports/compras-{timezone.localdate().isoformat()}-{job.pk}.csv"
        job_save_file(
            job,
            name,
            File(raw, name=name),
            result={"summary": _summary(written, size, job), "rows": written, "bytes": size},
        )


def _summary(rows: int, size: int, job: Job) -> str:
    count = formats.number_format(rows, force_grouping=True)
    megabytes = formats.number_format(round(size / 1_000_000, 1), decimal_pos=1, force_grouping=True)
    return ngettext(
        "%(count)s purchase exported (CSV %(dialect)s, %(size)s MB).",
        "%(count)s purchases exported (CSV %(dialect)s, %(size)s MB).",
        rows,
    ) % {"count": count, "dialect": job.params.get("dialect", PLAIN), "size": megabytes}


def _reading(using: str):
    # On PostgreSQL, in a transaction: the iterator's server-side cursor is
    # then a plain one, which hands rows out as the scan finds them (in
    # autocommit Django declares it WITH HOLD, which computes the whole
    # result first). Nested in another, it needs no savepoint: it only reads.
    if connections[using].vendor == "postgresql":
        return transaction.atomic(using=using, savepoint=False)
    return nullcontext()


class _Progress:
    """Writes how many rows are done, for whoever follows the job. On
    PostgreSQL the rows are read in a transaction, whose writes nobody sees
    before it ends: when the job's row is in that database, the count goes
    through a connection of its own."""

    def __init__(self, job: Job, *, reading: str):
        self.job = job
        writing = router.db_for_write(Job)
        apart = writing == reading and connections[writing].vendor == "postgresql"
        self.own = connections.create_connection(writing) if apart else None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.own is not None:
            self.own.close()

    def __call__(self, done: int) -> None:
        if self.own is None:
            job_progress(self.job, done=done)
            return
        quote = self.own.ops.quote_name
        try:
            with self.own.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {quote(Job._meta.db_table)} SET {quote('done')} = %s WHERE {quote('id')} = %s",  # noqa: S608 (names, not input)
                    [done, self.job.pk],
                )
        except DatabaseError:
            # Progress is for people watching; the file matters more.
            logger.warning("Job %s: its progress could not be written.", self.job.pk)


def _row_cells(dialect: Dialect) -> Callable[[tuple], list]:
    """A function from a row of EXPORT_COLUMNS to its cells in ``dialect``
    (one function per column, chosen once: a million rows go through it)."""
    statuses = {value: str(label) for value, label in Purchase.Status.choices}
    zone = timezone.get_current_timezone()

    def decimal(value):
        # Decimals of the database's 2 places: str() writes them plainly.
        return str(value).replace(".", ",") if dialect.decimal_comma else str(value)

    def day(value):
        if dialect.day_first:
            return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
        return value.isoformat()

    def moment(value):
        if value is None:
            return ""
        local = value.astimezone(zone)
        if dialect.day_first:
            return local.strftime("%d/%m/%Y %H:%M:%S")
        return local.isoformat(timespec="seconds")

    def status(value):
        return statuses.get(value, value)

    by_column = {
        "date": day,
        "value": decimal,
        "status": status,
        "cashback_percent": decimal,
        "cashback_value": decimal,
        "reviewed_at": moment,
    }
    writers = [by_column.get(name) for name, _title in EXPORT_COLUMNS]

    def cells(row: tuple) -> list:
        return [value if write is None else write(value) for write, value in zip(writers, row, strict=True)]

    return cells
