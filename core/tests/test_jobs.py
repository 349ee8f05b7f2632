"""Jobs: sent after the commit, each chunk done once, followed and
downloaded by the staff member who started them, and nobody else."""

from datetime import timedelta
from unittest import mock

import pytest
from celery import shared_task
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from conftest import authenticated_client
from core import jobs
from core.models import Job, JobChunk

pytestmark = pytest.mark.django_db

TASK = "core.tests.test_jobs.count_ids"
SEEN: list[int] = []


def _process(job, ids):
    SEEN.extend(ids)
    return {"done": len(ids), "failures": sum(1 for i in ids if i % 10 == 0)}


@shared_task(name=TASK)
def count_ids(job_id):
    jobs.job_run(job_id, lambda job, deadline: jobs.job_run_chunks(job, deadline, _process))


@pytest.fixture(autouse=True)
def _seen():
    SEEN.clear()


def start(user=None, ids=range(1, 1201), **kwargs):
    return jobs.job_start(
        kind=Job.Kind.PURCHASE_REVIEW,
        task=TASK,
        user=user,
        permission="purchases.view_purchase",
        chunks=ids,
        **kwargs,
    )


def test_a_job_is_sent_only_when_its_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = start(chunk_size=500)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.failures) == (Job.Status.SUCCEEDED, 1200, 1200, 120)
    assert sorted(SEEN) == list(range(1, 1201))
    assert JobChunk.objects.filter(job=job).count() == 3
    assert job.started_at
    assert job.finished_at


def test_a_rolled_back_job_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                start()
                raise RuntimeError("the request failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not Job.objects.exists()
    assert SEEN == []


def test_a_job_run_again_does_no_chunk_twice():
    job = start(chunk_size=100)
    # A first run stops after some chunks (its slice ends), as a killed worker would.
    with override_settings(JOB_SLICE_SECONDS=0), mock.patch.object(jobs, "job_send") as resend:
        count_ids(str(job.pk))
    assert resend.called
    assert SEEN == []  # a zero slice does nothing, and leaves it to the next message
    JobChunk.objects.filter(job=job, index__lt=4).update(done=True)
    count_ids(str(job.pk))
    count_ids(str(job.pk))  # the same message delivered again
    job.refresh_from_db()
    assert sorted(SEEN) == list(range(401, 1201))
    assert job.status == Job.Status.SUCCEEDED


def test_the_job_finishes_once_and_runs_its_ending_once():
    endings = []
    job = start(ids=[1, 2, 3])
    for _ in range(3):
        jobs.job_run(
            str(job.pk),
            lambda job, deadline: jobs.job_run_chunks(job, deadline, _process),
            on_success=endings.append,
        )
    assert len(endings) == 1
    assert endings[0].status == Job.Status.SUCCEEDED


def test_a_failing_job_is_marked_failed_with_the_error_type():
    job = start(ids=[1, 2])

    def broken(job, ids):
        raise ZeroDivisionError("boom")

    jobs.job_run(str(job.pk), lambda job, deadline: jobs.job_run_chunks(job, deadline, broken))
    job.refresh_from_db()
    assert (job.status, job.error, job.done) == (Job.Status.FAILED, "ZeroDivisionError", 0)
    assert not JobChunk.objects.filter(job=job, done=True).exists()


def test_queued_jobs_are_sent_again_by_beat():
    job = start()
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = start(ids=[7])
    assert jobs.job_resend_queued() == 1
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert fresh.status == Job.Status.QUEUED


def test_a_broker_that_is_down_leaves_the_job_queued(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = start(ids=[1])
    with mock.patch.object(count_ids, "apply_async", side_effect=ConnectionRefusedError):
        assert jobs.job_send(job.pk) is False
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


# --- Following a job, downloading its file ------------------------------------------


def staff_with(*codenames):
    staff = StaffFactory()
    for codename in codenames:
        app_label, _, name = codename.partition(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))
    return staff


def finished_export(user, content=b"id;valor\r\n1;10,00\r\n"):
    job = Job.objects.create(
        kind=Job.Kind.PURCHASE_EXPORT,
        task=TASK,
        created_by=user,
        permission="purchases.view_purchase",
        status=Job.Status.SUCCEEDED,
        total=1,
        done=1,
        finished_at=timezone.now(),
    )
    jobs.job_save_file(job, f"exports/{job.pk}.csv", ContentFile(content))
    job.refresh_from_db()
    return job


def test_the_owner_follows_the_job_and_downloads_its_file():
    staff = staff_with("purchases.view_purchase")
    job = finished_export(staff)
    client = authenticated_client(staff)
    response = client.get(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id", "kind", "status", "done", "total", "failures", "download_url", "created_at", "finished_at"
    }  # fmt: skip
    assert (body["kind"], body["status"], body["done"], body["total"]) == (
        "purchase_export",
        "succeeded",
        1,
        1,
    )
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"id;valor\r\n1;10,00\r\n"
    assert "attachment" in download["Content-Disposition"]


def test_nobody_else_sees_the_job_or_its_file():
    owner = staff_with("purchases.view_purchase")
    job = finished_export(owner)
    url = authenticated_client(owner).get(f"/api/v1/jobs/{job.pk}/").json()["download_url"]
    other = authenticated_client(staff_with("purchases.view_purchase"))
    assert other.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert other.get(url).status_code == 404
    # A reseller, or anyone without a token.
    from resellers.tests.factories import ResellerFactory

    reseller = authenticated_client(ResellerFactory().user)
    assert reseller.get(f"/api/v1/jobs/{job.pk}/").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get(url).status_code == 401


def test_the_owner_who_lost_the_permission_is_refused():
    owner = staff_with("purchases.view_purchase")
    job = finished_export(owner)
    owner.user_permissions.clear()
    assert authenticated_client(owner).get(f"/api/v1/jobs/{job.pk}/").status_code == 403


def test_the_link_expires_with_the_file_and_a_forged_one_never_works():
    owner = staff_with("purchases.view_purchase")
    job = finished_export(owner)
    client = authenticated_client(owner)
    url = client.get(f"/api/v1/jobs/{job.pk}/").json()["download_url"]
    forged = url.rsplit("token=", 1)[0] + "token=" + "x" * 40
    assert client.get(forged).status_code == 404  # no such link
    assert client.get(url.rsplit("?", 1)[0]).status_code == 400  # no token at all
    assert client.get(url.rsplit("?", 1)[0] + "?token=").status_code == 404  # an empty one
    Job.objects.filter(pk=job.pk).update(file_expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(url)
    assert response.status_code == 410
    assert response.json()["code"] == "gone"
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["download_url"] is None


def test_expired_files_are_removed_and_the_job_stays():
    owner = staff_with("purchases.view_purchase")
    job = finished_export(owner)
    kept = finished_export(owner)
    Job.objects.filter(pk=job.pk).update(file_expires_at=timezone.now() - timedelta(seconds=1))
    assert jobs.job_remove_expired_files() == 1
    job.refresh_from_db()
    assert job.file == ""
    assert not storages["jobs"].exists(f"exports/{job.pk}.csv")
    assert storages["jobs"].exists(kept.file)


def test_an_unknown_or_malformed_job_id_is_404():
    client = authenticated_client(staff_with("purchases.view_purchase"))
    assert client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/api/v1/jobs/not-a-uuid/").status_code == 404


# --- The jobs page --------------------------------------------------------------------


def test_the_jobs_page_lists_the_staff_members_own_jobs(client):
    owner = staff_with("purchases.view_purchase")
    mine = finished_export(owner)
    theirs = finished_export(staff_with("purchases.view_purchase"))
    client.force_login(owner)
    response = client.get("/admin/core/job/")
    assert response.status_code == 200
    page = response.content.decode()
    assert str(mine.pk) in page
    assert str(theirs.pk) not in page
    detail = client.get(f"/admin/core/job/{mine.pk}/change/")
    assert detail.status_code == 200
    link = next(
        part.split('"')[0] for part in detail.content.decode().split('href="') if "/download/?token=" in part
    )
    download = client.get(link)
    assert download.status_code == 200
    assert client.get(f"/admin/core/job/{theirs.pk}/change/").status_code in (302, 403)
