"""POST /api/v1/purchases/exports/: the list's filters in a body, a job that
writes the list's rows to a CSV file in either dialect, followed and
downloaded through /api/v1/jobs/."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.storage import storages
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from conftest import EN, authenticated_client
from core.models import Job
from purchases import exports
from purchases.models import Purchase
from purchases.services import purchase_approve, purchase_reject
from purchases.tasks import purchases_export_job
from resellers.tests.factories import ResellerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

URL = "/api/v1/purchases/exports/"
LIST = "/api/v1/purchases/"
COLUMNS = len(exports.EXPORT_COLUMNS)


@pytest.fixture
def shop(make_purchase):
    """Purchases over three months, of two resellers, in every status, two
    of them reviewed by a named reviewer."""
    reviewer = StaffFactory(full_name="Rita Revisora", email="rita@example.com")
    ana = ResellerFactory(user__full_name="Ana Souza", user__email="ana@example.com")
    bia = ResellerFactory(user__full_name="Bia Lima", user__email="bia@example.com")
    made = {}
    for n in range(24):
        owner = ana if n % 3 else bia
        day = date(2026, 1 + n % 3, 1 + n % 18)
        made[f"NF-{n:02d}"] = make_purchase(owner, f"{100 + n * 37}.{n:02d}", day, f"NF-{n:02d}")
    purchase_approve(purchase=made["NF-01"], reviewer=reviewer)
    purchase_reject(purchase=made["NF-02"], reviewer=reviewer, reason="Nota ilegível.")
    return {"reviewer": reviewer, "ana": ana, "bia": bia, **made}


def start(client, body=None, **extra):
    """POST the export (its task runs in-process once the request commits)."""
    return client.post(URL, body if body is not None else {}, format="json", **extra)


@pytest.fixture
def export(staff_client, django_capture_on_commit_callbacks):
    def run(body=None, client=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = start(client or staff_client, body, **extra)
        assert response.status_code == 202, response.content
        return Job.objects.get(pk=response.json()["id"])

    return run


def file_text(job) -> str:
    with storages["jobs"].open(job.file, "rb") as stored:
        return stored.read().decode("utf-8")


def read_plain(job) -> list[list[str]]:
    text = file_text(job)
    assert not text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def read_pt_br(job) -> list[list[str]]:
    text = file_text(job)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def list_rows(client, query) -> list[dict]:
    """Every row of GET /api/v1/purchases/ for ``query``, page after page."""
    rows, page = [], 1
    while True:
        answer = client.get(LIST, {**query, "page": page, "page_size": 7}).json()
        rows.extend(answer["results"])
        if answer["next"] is None:
            return rows
        page += 1


# --- Starting one ------------------------------------------------------------------


def test_an_export_answers_202_with_its_job_and_where_to_follow_it(staff_client, shop):
    response = start(staff_client, {"month": "2026-02"})
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {
        "id", "kind", "status", "done", "total", "failures", "download_url", "created_at", "finished_at",
    }  # fmt: skip
    assert body["kind"] == "purchase_export"
    # The task is sent when the request's transaction commits (none here).
    assert body["status"] == "queued"
    assert response["Location"] == f"http://testserver/api/v1/jobs/{body['id']}/"
    job = Job.objects.get(pk=body["id"])
    assert job.params == {
        "source": "api",
        "filters": {"month": "2026-02"},
        "ordering": "",
        "dialect": "plain",
        "language": "pt-br",
    }
    assert job.permission == "purchases.view_purchase"
    assert job.description == "Exportação de compras (CSV plain): month=2026-02"


def test_the_job_finishes_and_its_link_downloads_the_file(staff_client, shop, export):
    job = export({"month": "2026-02"})
    followed = staff_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert followed["status"] == "succeeded"
    assert (followed["done"], followed["total"], followed["failures"]) == (8, 8, 0)
    assert followed["finished_at"]
    assert job.file == f"exports/compras-2026-03-20-{job.pk}.csv"
    assert job.result["rows"] == 8
    assert job.result["summary"].startswith("8 compras exportadas (CSV plain, 0,0 MB)")
    download = staff_client.get(followed["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="compras-2026-03-20-{job.pk}.csv"'
    assert b"".join(download.streaming_content).decode() == file_text(job)


# --- The rows: the list's -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "validating"},
        {"status": "approved"},
        {"month": "2026-02"},
        {"date_from": "2026-01-05", "date_to": "2026-02-20"},
        {"date_from": "2026-03-01"},
        {"search": "nf-1"},
        {"ordering": "value"},
        {"ordering": "-value", "status": "validating"},
        {"ordering": "created_at"},
        {"ordering": "-created_at", "month": "2026-01"},
        {"ordering": "date"},
        {"month": "2025-01"},
    ],
)
def test_the_file_holds_the_lists_rows_in_its_order(staff_client, shop, export, query):
    listed = list_rows(staff_client, query)
    header, *rows = read_plain(export(query))
    assert len(header) == COLUMNS
    assert [int(row[0]) for row in rows] == [row["id"] for row in listed]
    for row, shown in zip(rows, listed, strict=True):
        assert row[1:5] == [shown["code"], shown["date"], shown["value"], shown["status_display"]]
        assert row[5:8] == [shown["cashback_percent"], shown["cashback_value"], str(shown["reseller"]["id"])]
        assert row[8] == shown["reseller"]["full_name"]
        assert row[11] == (shown["reviewed_by"] or "")
        assert row[13] == shown["rejection_reason"]


def test_the_reseller_filter_exports_one_resellers_purchases(staff_client, shop, export):
    _header, *rows = read_plain(export({"reseller": shop["bia"].pk}))
    assert len(rows) == 8
    assert {row[9] for row in rows} == {"bia@example.com"}


def test_ties_are_broken_by_id_as_the_list_breaks_them(staff_client, make_purchase, export):
    for n in range(5):
        make_purchase(value="10.00", date=date(2026, 3, 1), code=f"TIE-{n}")
    for ordering in ("value", "-value", "date", "-date"):
        listed = [row["id"] for row in list_rows(staff_client, {"ordering": ordering})]
        _header, *rows = read_plain(export({"ordering": ordering}))
        assert [int(row[0]) for row in rows] == listed, ordering


def test_the_review_columns_say_who_reviewed_when_and_why(shop, export):
    header, *rows = read_plain(export({}))
    assert header[10:] == ["Revisado por", "E-mail de quem revisou", "Revisado em", "Motivo da reprovação"]
    by_code = {row[1]: row for row in rows}
    approved, rejected = Purchase.objects.get(code="NF-01"), Purchase.objects.get(code="NF-02")
    assert by_code["NF-01"][10:] == [
        "Rita Revisora",
        "rita@example.com",
        timezone.localtime(approved.reviewed_at).replace(microsecond=0).isoformat(),
        "",
    ]
    assert by_code["NF-02"][10:13] == ["Rita Revisora", "rita@example.com", by_code["NF-02"][12]]
    assert by_code["NF-02"][12] == "2026-03-20T09:00:00-03:00"
    assert by_code["NF-02"][13] == "Nota ilegível."
    assert rejected.rejection_reason == "Nota ilegível."
    assert by_code["NF-03"][10:] == ["", "", "", ""]


def test_the_file_never_holds_a_cpf(shop, export):
    text = file_text(export({}))
    for reseller in (shop["ana"], shop["bia"]):
        assert reseller.cpf not in text
        assert reseller.cpf_formatted not in text
        assert reseller.cpf_encrypted not in text
    header = text.splitlines()[0].lower()
    assert "cpf" not in header


# --- Dialects ------------------------------------------------------------------------


def test_the_plain_dialect_is_for_programs(shop, export):
    header, *rows = read_plain(export({"search": "NF-01"}))
    assert header == [
        "Id", "Código", "Data", "Valor", "Status", "Percentual de cashback", "Valor do cashback",
        "Id do revendedor", "Nome do revendedor", "E-mail do revendedor",
        "Revisado por", "E-mail de quem revisou", "Revisado em", "Motivo da reprovação",
    ]  # fmt: skip
    (row,) = rows
    purchase = shop["NF-01"]
    purchase.refresh_from_db()
    assert (purchase.cashback_percent, purchase.cashback_value) == (Decimal("20.00"), Decimal("27.40"))
    assert row[1:8] == ["NF-01", "2026-02-02", "137.01", "Aprovado", "20.00", "27.40", str(shop["ana"].pk)]
    assert Decimal(row[3]) == Decimal("137.01")
    assert date.fromisoformat(row[2]) == date(2026, 2, 2)


def test_the_pt_br_dialect_is_for_spreadsheets(shop, export):
    job = export({"search": "NF-01", "dialect": "pt-BR"})
    text = file_text(job)
    assert text.startswith('\ufeff"Id";"Código";"Data";')
    header, *rows = read_pt_br(job)
    assert len(header) == COLUMNS
    (row,) = rows
    assert row[1:8] == ["NF-01", "02/02/2026", "137,01", "Aprovado", "20,00", "27,40", str(shop["ana"].pk)]
    assert row[12] == "20/03/2026 09:00:00"
    assert job.file.endswith(".csv")
    assert job.result["summary"].startswith("1 compra exportada (CSV pt-BR, ")


def test_the_dialects_hold_the_same_rows(shop, export):
    _header, *plain = read_plain(export({"ordering": "-value"}))
    _header, *pt_br = read_pt_br(export({"ordering": "-value", "dialect": "pt-BR"}))
    assert [row[0] for row in plain] == [row[0] for row in pt_br]
    for mine, theirs in zip(plain, pt_br, strict=True):
        assert Decimal(mine[3]) == Decimal(theirs[3].replace(",", "."))
        assert mine[2] == "-".join(reversed(theirs[2].split("/")))


def test_the_header_and_statuses_follow_the_requests_language(shop, export):
    header, *rows = read_plain(export({"search": "NF-02"}, **EN))
    assert header[:5] == ["Id", "Code", "Date", "Value", "Status"]
    assert header[10:] == ["Reviewed by", "Reviewer e-mail", "Reviewed at", "Rejection reason"]
    assert rows[0][4] == "Rejected"


@pytest.mark.parametrize(("dialect", "separator"), [("plain", ","), ("pt-BR", ";")])
def test_no_cell_starts_a_formula(make_purchase, export, dialect, separator):
    reseller = ResellerFactory(user__full_name="Maria;=1+1;", user__email="@evil@example.com")
    make_purchase(reseller, "10.00", date(2026, 3, 1), "-1-1")
    make_purchase(reseller, "10.00", date(2026, 3, 2), "NF_2")
    job = export({"dialect": dialect})
    text = file_text(job).removeprefix("\ufeff")
    lines = text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    cells = [piece.lstrip(' "') for line in lines for piece in line.split(separator)]
    assert [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))] == []
    _header, *rows = csv.reader(io.StringIO(text), delimiter=separator)
    assert {(row[1], row[8], row[9]) for row in rows} == {
        ("'-1-1", "Maria;'=1+1;", "'@evil@example.com"),
        ("NF_2", "Maria;'=1+1;", "'@evil@example.com"),
    }


# --- Bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"status": "bogus"},
        {"month": "2026-13"},
        {"month": "garbage"},
        {"date_from": "2026-02-30"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
        {"reseller": 0},
        {"reseller": 2**63},
        {"ordering": "name"},
        {"ordering": "-id"},
    ],
)
def test_bad_filters_are_the_lists_400_and_start_nothing(staff_client, shop, query):
    response = start(staff_client, query)
    assert response.status_code == 400
    assert response.json() == staff_client.get(LIST, query).json()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"page": 2}, "page"),
        ({"dialect": "excel"}, "dialect"),
        ({"dialect": "PT-BR"}, "dialect"),
        ({"status": ""}, "status"),
        ({"status": ["approved"]}, "status"),
        ({"month": 202603}, "month"),
        ({"month": " 2026-03"}, "month"),
        ({"reseller": "12"}, "reseller"),
        ({"reseller": 1.5}, "reseller"),
        ({"reseller": True}, "reseller"),
        ({"search": "   "}, "search"),
        ({"search": "x" * 65}, "search"),
        ({"search": "a\x00b"}, "search"),
        ({"date_to": None}, "date_to"),
    ],
)
def test_a_body_the_schema_refuses_is_a_400_naming_the_field(staff_client, body, field):
    response = start(staff_client, body)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {field}
    assert not Job.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(staff_client):
    response = staff_client.post(URL, ["status"], format="json")
    assert response.status_code == 400
    assert not Job.objects.exists()


# --- Who may ------------------------------------------------------------------------


def test_a_reseller_may_not_export(reseller_client):
    response = start(reseller_client, {})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Job.objects.exists()


def test_an_anonymous_caller_may_not_export(api_client):
    assert start(api_client, {}).status_code == 401
    assert not Job.objects.exists()


def test_staff_need_the_view_permission(db):
    refused = start(authenticated_client(StaffFactory(permissions=["purchases.review_purchase"])), {})
    assert refused.status_code == 403
    assert not Job.objects.exists()
    allowed = start(authenticated_client(StaffFactory(permissions=["purchases.view_purchase"])), {})
    assert allowed.status_code == 202


def test_only_the_author_follows_the_job(shop, export):
    job = export({})
    other = authenticated_client(StaffFactory(is_superuser=True))
    assert other.get(f"/api/v1/jobs/{job.pk}/").status_code == 404


# --- How many at once ---------------------------------------------------------------


def test_a_fourth_export_in_progress_is_a_409(staff_client, staff_user):
    for _ in range(3):
        assert start(staff_client, {}).status_code == 202  # queued: nothing runs them here
    response = start(staff_client, {"dialect": "pt-BR"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Você já tem 3 exportações em andamento. Espere uma delas terminar.",
        "code": "conflict",
    }
    assert Job.objects.count() == 3
    # Others are not held back by it.
    assert start(authenticated_client(StaffFactory(is_superuser=True)), {}).status_code == 202


def test_finished_and_long_lost_exports_do_not_count(staff_client, staff_user, settings):
    settings.PURCHASE_EXPORTS_PER_USER = 2
    first, second = (start(staff_client, {}).json()["id"] for _ in range(2))
    assert start(staff_client, {}).status_code == 409
    Job.objects.filter(pk=first).update(status=Job.Status.SUCCEEDED)
    assert start(staff_client, {}).status_code == 202
    assert start(staff_client, {}).status_code == 409
    Job.objects.filter(pk=second).update(created_at=timezone.now() - timedelta(hours=2))
    assert start(staff_client, {}).status_code == 202


# --- The task -----------------------------------------------------------------------


def test_run_again_the_task_writes_the_file_anew(shop, export):
    job = export({"month": "2026-01"})
    first_file = job.file
    # A worker lost after writing it: the message is delivered again.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, finished_at=None)
    Purchase.objects.filter(code="NF-00").update(code="NF-RENAMED")
    with mock.patch("purchases.exports.timezone.localdate", return_value=date(2026, 3, 21)):
        purchases_export_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.file != first_file
    assert not storages["jobs"].exists(first_file)
    _header, *rows = read_plain(job)
    assert len(rows) == 8
    assert "NF-RENAMED" in {row[1] for row in rows}
    assert (job.done, job.total) == (8, 8)


def test_the_progress_is_written_as_the_rows_are(shop, export, monkeypatch):
    seen = []
    real_progress, real_call = exports.job_progress, exports._Progress.__call__

    def spy_progress(job, *, done, total=None):
        if total is not None:  # the start and the end (on SQLite, the rows' too)
            seen.append((done, total))
        real_progress(job, done=done, total=total)

    def spy_call(self, done):
        seen.append((done, "while reading"))
        real_call(self, done)

    monkeypatch.setattr(exports, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(exports, "job_progress", spy_progress)
    monkeypatch.setattr(exports._Progress, "__call__", spy_call)
    export({})
    assert seen == [(0, 24), (10, "while reading"), (20, "while reading"), (24, 24)]


@pytest.mark.postgres
def test_the_progress_is_seen_while_the_rows_are_read_in_their_transaction(
    transactional_db, default_cashback_policy, make_purchase, monkeypatch
):
    # The rows are read in a transaction (a plain server-side cursor), whose
    # own writes nobody sees until it ends: the progress is written apart.
    for n in range(25):
        make_purchase(value="10.00", date=date(2026, 3, 1 + n % 19), code=f"NF-{n}")
    staff = StaffFactory(is_superuser=True)
    answer = start(authenticated_client(staff), {}).json()
    # No test transaction: the task ran as the request committed, before its answer.
    assert (answer["status"], answer["done"], answer["total"]) == ("succeeded", 25, 25)
    assert answer["download_url"].startswith(f"http://testserver/api/v1/jobs/{answer['id']}/download/?token=")
    job_id = answer["id"]
    Job.objects.filter(pk=job_id).update(status=Job.Status.QUEUED, finished_at=None)
    seen_elsewhere = []
    real_call = exports._Progress.__call__

    def watch(self, done):
        real_call(self, done)
        assert connection.in_atomic_block  # still reading
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT done FROM core_job WHERE id = %s", [job_id])
                seen_elsewhere.append(cursor.fetchone()[0])
        finally:
            other.close()

    monkeypatch.setattr(exports, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(exports._Progress, "__call__", watch)
    purchases_export_job(job_id)
    assert seen_elsewhere == [10, 20]
    assert Job.objects.get(pk=job_id).done == 25


def test_the_rows_are_read_with_an_iterator(shop, export, monkeypatch):
    from django.db.models.query import QuerySet

    chunk_sizes = []
    real_iterator = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return real_iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    export({})
    assert chunk_sizes == [2000]


def _task_queries(job_id) -> int:
    Job.objects.filter(pk=job_id).update(status=Job.Status.QUEUED, file="", finished_at=None)
    with CaptureQueriesContext(connection) as queries:
        purchases_export_job(str(job_id))
    return len(queries.captured_queries)


def test_the_task_runs_a_constant_number_of_queries(staff_client, make_purchase):
    make_purchase(value="10.00", date=date(2026, 3, 1), code="FIRST")
    job_id = start(staff_client, {"month": "2026-03"}).json()["id"]
    one = _task_queries(job_id)
    for n in range(60):
        make_purchase(value="10.00", date=date(2026, 3, 1 + n % 19), code=f"NF-{n}")
    # Claiming the job (a savepoint, its row locked, marked running), the
    # count and the total, the rows (one query, one cursor), the last
    # progress, storing the file (the old one's name, the new one), finishing
    # (a savepoint and the update).
    assert _task_queries(job_id) == one
    assert one <= 13
    assert Job.objects.get(pk=job_id).done == 61
