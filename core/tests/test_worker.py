"""Jobs and e-mail through RabbitMQ and a real Celery worker (``-m worker``):
nothing sent for a transaction that rolls back, a job finished by the next
worker when one is killed mid-job with nothing done twice, an e-mail sent
exactly once.

The worker tests of the features built on these take the same
``celery_worker`` fixture (conftest.py), in their own app's tests: a bulk
approval of 5,000 purchases through the admin
(purchases/tests/test_worker_bulk_review.py) and an export downloaded once
the worker wrote it (purchases/tests/test_worker_exports.py)."""

import os
import signal
from contextlib import suppress

import pytest
from celery.signals import before_task_publish
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction

from conftest import wait_until
from core import jobs
from core.mail import email_queue
from core.models import Job, JobChunk, OutboxEmail
from core.tasks import email_send
from core.tests.worker_tasks import DONE_TABLE, RECORD_IDS

pytestmark = pytest.mark.worker


@pytest.fixture
def published():
    """The names of the tasks this process publishes to the broker."""
    names = []

    def record(sender=None, **kwargs):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    try:
        yield names
    finally:
        before_task_publish.disconnect(record)


@pytest.fixture
def done_table(celery_worker):
    """The table ``record_ids`` writes each id into, once (primary key)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {DONE_TABLE} (id integer PRIMARY KEY, pid integer NOT NULL)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {DONE_TABLE}")


def done_rows() -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, pid FROM {DONE_TABLE} ORDER BY id")  # noqa: S608 (a constant name)
        return cursor.fetchall()


def start(ids, *, chunk_size=5, sleep=0.0) -> Job:
    with transaction.atomic():
        return jobs.job_start(
            kind=Job.Kind.PURCHASE_REVIEW,
            task=RECORD_IDS,
            user=None,
            permission="purchases.review_purchase",
            params={"sleep": sleep},
            chunks=ids,
            chunk_size=chunk_size,
        )


def finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


def message(subject: str) -> EmailMultiAlternatives:
    return EmailMultiAlternatives(subject=subject, body="Corpo.", to=["maria@example.com"])


@pytest.mark.usefixtures("done_table")
def test_a_transaction_that_rolls_back_sends_nothing(celery_worker, published):
    with suppress(RuntimeError), transaction.atomic():
        start([1, 2, 3])
        email_queue(message("Desfeita"), key="worker-test:rolled-back", user_id=None)
        raise RuntimeError("the request failed")

    assert published == []
    assert not Job.objects.exists()
    assert not OutboxEmail.objects.exists()
    # A job committed after it is sent, and run: the broker held nothing else.
    job = start([4])
    wait_until(lambda: finished(job), what="the committed job")
    assert published == [RECORD_IDS]
    assert job.status == Job.Status.SUCCEEDED
    assert [object_id for object_id, _ in done_rows()] == [4]
    assert celery_worker.messages_ready() == 0
    assert not list((celery_worker.directory / "mail").iterdir())


@pytest.mark.usefixtures("done_table")
def test_a_worker_killed_mid_job_leaves_it_to_the_next_with_nothing_done_twice(celery_worker):
    # 12 chunks of 5 ids, each chunk's transaction held open 0.3 s.
    job = start(range(1, 61), chunk_size=5, sleep=0.3)
    wait_until(lambda: JobChunk.objects.filter(job=job, done=True).count() >= 3, what="three chunks done")
    first_pids = {pid for _, pid in done_rows()}

    celery_worker.kill()  # SIGKILL, worker and pool together, mid-chunk
    assert not finished(job)
    done_before = JobChunk.objects.filter(job=job, done=True).count()
    assert done_before < 12
    celery_worker.start()  # the next worker: the unacknowledged message is delivered to it

    wait_until(lambda: finished(job), timeout=60, what="the job, finished by the next worker")
    assert (job.status, job.done, job.failures, job.total) == (Job.Status.SUCCEEDED, 60, 0, 60)
    rows = done_rows()
    # Every id once (the primary key would have failed the job otherwise),
    # those after the kill by the next worker's processes.
    assert [object_id for object_id, _ in rows] == list(range(1, 61))
    assert {pid for _, pid in rows} - first_pids
    assert first_pids.isdisjoint({pid for object_id, pid in rows if object_id > done_before * 5})


@pytest.mark.usefixtures("done_table")
def test_a_pool_process_killed_mid_job_gives_the_job_back_to_its_worker(celery_worker):
    # The worker lives on; its pool process dies (reject_on_worker_lost).
    job = start(range(1, 31), chunk_size=5, sleep=0.3)
    wait_until(lambda: done_rows(), what="a first chunk")
    (pid,) = {pid for _, pid in done_rows()}
    os.kill(pid, signal.SIGKILL)

    wait_until(lambda: finished(job), timeout=60, what="the job, finished by another pool process")
    assert (job.status, job.done, job.failures) == (Job.Status.SUCCEEDED, 30, 0)
    assert [object_id for object_id, _ in done_rows()] == list(range(1, 31))
    assert celery_worker.process.poll() is None


def test_an_email_is_sent_exactly_once(celery_worker, published):
    with transaction.atomic():
        email_queue(message("Compra aprovada"), key="worker-test:once", user_id=7)
        email_queue(message("Compra aprovada"), key="worker-test:once", user_id=7)  # the same message
    email_send.delay("worker-test:once")  # and its task delivered once more

    assert set(published) == {"core.tasks.email_send"}
    # Every one of them ran (the worker's log says so for each).
    celery_worker.wait_for_log(r"core\.tasks\.email_send\[[^\]]+\] succeeded", count=len(published))
    sent = OutboxEmail.objects.get(key="worker-test:once")
    assert sent.sent_at is not None
    assert sent.attempts == 1
    files = list((celery_worker.directory / "mail").iterdir())
    assert sum(path.read_text().count("Subject: Compra aprovada") for path in files) == 1
