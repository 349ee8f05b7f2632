"""Background work every app shares: jobs staff start and follow, and the
e-mail outbox.

A ``Job`` is work a person started and waits on (a bulk review, an export):
its row is the job's state, progress and result, whatever process runs it.
Work that can be split is split into ``JobChunk`` rows, each done in one
transaction together with its effects, so a job run again (a worker killed,
a message delivered twice) never does a chunk twice.

An ``OutboxEmail`` is written in the transaction that causes it and sent by
a task after the commit: a rolled-back change sends nothing, and the unique
``key`` makes a message that is asked for twice one message.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Job(models.Model):
    class Kind(models.TextChoices):
        PURCHASE_REVIEW = "purchase_review", _("Bulk review of purchases")
        PURCHASE_EXPORT = "purchase_export", _("Export of purchases")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    # The Celery task that runs it: what is sent again when a job is stuck.
    task = models.CharField(_("task"), max_length=200)
    description = models.CharField(_("description"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # What its result may show: whoever reads the job needs it, now.
    permission = models.CharField(_("permission"), max_length=100)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    total = models.PositiveIntegerField(_("total"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    file = models.CharField(_("file"), max_length=200, blank=True)
    file_expires_at = models.DateTimeField(_("file expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="core_job_user_created"),
            # The queued jobs beat sends again; the files it removes.
            models.Index(fields=["status", "created_at"], name="core_job_status_created"),
            models.Index(
                fields=["file_expires_at"], name="core_job_file_expires", condition=~models.Q(file="")
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"
            if self.created_at
            else str(self.pk)
        )

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class JobChunk(models.Model):
    """A slice of a job's work: the ids it acts on, done once."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    ids = models.JSONField(default=list)
    done = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="core_jobchunk_unique_index")]
        indexes = [
            models.Index(
                fields=["job", "index"], name="core_jobchunk_pending", condition=models.Q(done=False)
            )
        ]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.index}"


class OutboxEmail(models.Model):
    """An e-mail waiting to be sent, or sent (``sent_at``). Its body is
    cleared once sent: links in it (password resets) must not outlive
    their purpose in the database."""

    key = models.CharField(max_length=200, unique=True)
    user_id = models.BigIntegerField(null=True)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="core_outbox_unsent", condition=models.Q(sent_at=None))
        ]

    def __str__(self) -> str:
        return self.key
