"""An export through RabbitMQ and a real Celery worker (``-m worker``): the
request answers at once, the worker writes the file, and the file downloaded
through the job's link holds the list's rows in the list's order."""

import csv
import io

import pytest

from conftest import authenticated_client, wait_until
from core.models import Job
from purchases.tests.test_api_exports import list_rows

# The worker's tests run on a flushed database: the policy is set up again.
pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("default_cashback_policy")]


def test_an_export_written_by_the_worker_is_the_lists_rows(celery_worker, staff_user, make_purchase):
    for n in range(60):
        make_purchase(code=f"NF-W{n:03d}", value=f"{10 + n}.{n % 100:02d}")
    client = authenticated_client(staff_user)
    query = {"ordering": "-value"}

    response = client.post("/api/v1/purchases/exports/", {**query, "dialect": "plain"}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])

    def done() -> bool:
        job.refresh_from_db()
        return job.is_finished

    wait_until(done, timeout=60, what="the worker to write the export")
    assert job.status == Job.Status.SUCCEEDED, job.error
    answer = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert (answer["done"], answer["total"]) == (60, 60)
    download = client.get(answer["download_url"])
    assert download.status_code == 200
    _header, *rows = csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8")))
    listed = list_rows(client, query)
    assert [(row[0], row[1]) for row in rows] == [(str(item["id"]), item["code"]) for item in listed]
