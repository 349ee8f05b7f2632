"""Jobs: work a person starts and follows, run by Celery workers.

An app starts a job with ``job_start`` inside the transaction that decides
it; the job's task is sent once that transaction commits (nothing is sent for
one that rolls back). The task calls ``job_run`` with the app's work:

- chunked work (``chunks`` given to ``job_start``): ``job_run_chunks`` hands
  each chunk's ids to the app's function inside one transaction that also
  marks the chunk done and adds to the job's counters. A chunk is done once
  whatever happens to the worker: the transaction that does it is the one
  that records it. Workers take chunks with ``SKIP LOCKED`` (PostgreSQL), so
  several can share a job;
- whole work: the app's function does it and sets the job's result; run
  again, it starts over (an export writes its file anew).

A task works for JOB_SLICE_SECONDS at most, then sends itself again for the
rest: a message is never held for long, and a worker that stops loses at
most one slice. Queued jobs that no worker started are sent again by beat
(``jobs_resend_queued``): a broker that was down when the job started delays
it, and loses nothing.
"""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.files.base import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core.models import Job, JobChunk

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
DOWNLOAD_SALT = "core.jobs.download"


def job_start(
    *,
    kind: str,
    task: str,
    user,
    permission: str,
    description: str = "",
    params: dict | None = None,
    chunks: Iterable[int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    total: int = 0,
) -> Job:
    """A queued job, its task sent once the current transaction commits.

    ``chunks``: the ids chunked work acts on (its total is their count)."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            task=task,
            created_by=user,
            permission=permission,
            description=description[:300],
            params=params or {},
            total=total,
        )
        if chunks is not None:
            rows, batch = [], []
            for object_id in chunks:
                batch.append(object_id)
                if len(batch) == chunk_size:
                    rows.append(JobChunk(job=job, index=len(rows), ids=batch))
                    batch = []
            if batch:
                rows.append(JobChunk(job=job, index=len(rows), ids=batch))
            JobChunk.objects.bulk_create(rows, batch_size=200)
            job.total = sum(len(row.ids) for row in rows)
            Job.objects.filter(pk=job.pk).update(total=job.total)
        job_id = job.pk
        transaction.on_commit(lambda: job_send(job_id))
    return job


def job_send(job_id) -> bool:
    """Send the job's task; False (logged) when the broker cannot take it,
    and the job waits for beat to send it again."""
    job = Job.objects.only("task").get(pk=job_id)
    try:
        current_app.tasks[job.task].apply_async(args=[str(job_id)])
    except Exception as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.error(
            "Job %s: its task could not be sent (%s); it will be sent again.", job_id, type(exc).__name__
        )
        return False
    return True


def job_run(
    job_id: str, work: Callable[[Job, float], bool], *, on_success: Callable[[Job], None] | None = None
):
    """Run a slice of the job: ``work(job, deadline)`` returns True when the
    job's work is complete, False when it stopped at the deadline (the task
    is sent again for the rest). A job that fails is marked failed with the
    error's type (details in the worker's log) and not retried: a bulk
    review or an export that failed is started again by a person."""
    job = _claim(job_id)
    if job is None:
        return
    deadline = time.monotonic() + settings.JOB_SLICE_SECONDS
    try:
        complete = work(job, deadline)
    except Exception as exc:
        logger.exception("Job %s (%s) failed.", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).exclude(status__in=Job.FINISHED).update(
            status=Job.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        return
    if complete is None:
        return  # others hold the rest of the work; the last of them finishes it
    if not complete:
        job_send(job.pk)
        return
    with transaction.atomic():
        # Exactly one run finishes a job, and only it runs on_success.
        finished = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, finished_at=timezone.now()
        )
        if finished and on_success is not None:
            job.refresh_from_db()
            on_success(job)


def _claim(job_id: str) -> Job | None:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("Job %s does not exist (removed?): nothing to do.", job_id)
            return None
        if job.is_finished:
            return None
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.RUNNING
            job.started_at = timezone.now()
            job.save(update_fields=["status", "started_at"])
    return job


def job_run_chunks(job: Job, deadline: float, process: Callable[[Job, list[int]], dict]) -> bool | None:
    """Do the job's chunks until none is left or the deadline passes.

    ``process(job, ids)`` acts on a chunk's ids inside the chunk's
    transaction and returns ``{"done": n, "failures": n, ...}``; what it
    returns is kept as the chunk's result. Returns True when every chunk is
    done, False at the deadline, None when the chunks left are being done
    by another worker."""
    while time.monotonic() < deadline:
        with transaction.atomic():
            chunk = (
                JobChunk.objects.select_for_update(skip_locked=True)
                .filter(job=job, done=False)
                .order_by("index")
                .first()
            )
            if chunk is None:
                break
            result = process(job, chunk.ids)
            chunk.done = True
            chunk.result = result
            chunk.save(update_fields=["done", "result"])
            Job.objects.filter(pk=job.pk).update(
                done=F("done") + result.get("done", 0), failures=F("failures") + result.get("failures", 0)
            )
    else:
        return False
    if JobChunk.objects.filter(job=job, done=False).exists():
        return None
    return True


def job_chunk_results(job: Job) -> Iterable[dict]:
    """Every done chunk's result, in order."""
    return (
        JobChunk.objects.filter(job=job, done=True)
        .order_by("index")
        .values_list("result", flat=True)
        .iterator()
    )


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    """Progress of whole (unchunked) work, seen by whoever follows the job."""
    updates = {"done": done} if total is None else {"done": done, "total": total}
    Job.objects.filter(pk=job.pk).update(**updates)


def job_save_file(job: Job, name: str, file: File, *, result: dict | None = None) -> None:
    """Store the job's file under ``name`` (replacing a file an earlier run of
    the job left) and record it, with when its link stops working."""
    storage = storages["jobs"]
    stored = storage.save(name, file)
    expires = timezone.now() + timedelta(seconds=settings.JOB_FILE_SECONDS)
    previous = Job.objects.filter(pk=job.pk).values_list("file", flat=True).first()
    Job.objects.filter(pk=job.pk).update(file=stored, file_expires_at=expires, result=result or {})
    if previous and previous != stored:
        storage.delete(previous)


def job_resend_queued() -> int:
    """Send again the task of every job queued for longer than
    JOB_RESEND_AFTER_SECONDS (its message was lost, or never sent)."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS)
    stuck = list(
        Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for job_id in stuck:
        job_send(job_id)
    return len(stuck)


def job_remove_expired_files() -> int:
    """Delete the files whose links have expired; the jobs stay, fileless."""
    storage = storages["jobs"]
    expired = Job.objects.exclude(file="").filter(file_expires_at__lt=timezone.now())
    removed = 0
    for job_id, name in expired.values_list("pk", "file"):
        storage.delete(name)
        removed += Job.objects.filter(pk=job_id, file=name).update(file="")
    return removed


# --- Links ----------------------------------------------------------------------


def job_download_url(job: Job) -> str | None:
    """The file's link while it lasts, signed so that it stops working when
    the file expires (and only its owner, as staff, may open it)."""
    if not job.file or job.file_expires_at is None or job.file_expires_at <= timezone.now():
        return None
    token = signing.dumps({"job": str(job.pk), "file": job.file}, salt=DOWNLOAD_SALT)
    return reverse("job-download", kwargs={"pk": job.pk}) + f"?token={token}"


def job_download_allowed(job: Job, token: str) -> bool | None:
    """True when the token is this job's current file's and the file has not
    expired; False when it is, but the file expired or was removed; None when
    the token is not this job's file's at all (forged, another file's)."""
    try:
        signed = signing.loads(token, salt=DOWNLOAD_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(signed, dict) or signed.get("job") != str(job.pk):
        return None
    if not job.file or signed.get("file") != job.file:
        return False  # the file it named was removed (expired, or written anew)
    return job.file_expires_at is not None and job.file_expires_at > timezone.now()


def jobs_visible_to(user):
    """The jobs a staff user may follow: their own, whose result they may
    still see."""
    if not (user and user.is_authenticated and user.is_staff):
        return Job.objects.none()
    return Job.objects.filter(created_by=user)
