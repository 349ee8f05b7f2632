"""Tasks only the worker tests use; the worker they start imports this
module (``celery worker -I core.tests.worker_tasks``).

``record_ids`` is chunked work that would show any chunk done twice: each
id goes into ``worker_test_done``, whose primary key refuses a second row,
inside the chunk's transaction, and the chunk then sleeps a while, so a
worker killed mid-job is most likely killed mid-chunk."""

import os
import time

from celery import shared_task
from django.db import connection

from core import jobs

RECORD_IDS = "core.tests.worker_tasks.record_ids"
DONE_TABLE = "worker_test_done"


def _record(job, ids):
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {DONE_TABLE} (id, pid) VALUES (%s, %s)",  # noqa: S608 (a constant name)
            [(object_id, os.getpid()) for object_id in ids],
        )
    time.sleep(job.params.get("sleep", 0))
    return {"done": len(ids), "failures": 0}


@shared_task(name=RECORD_IDS)
def record_ids(job_id):
    jobs.job_run(job_id, lambda job, deadline: jobs.job_run_chunks(job, deadline, _record))
