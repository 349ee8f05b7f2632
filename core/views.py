"""The staff's jobs through the API: following one, and downloading its file."""

from django.core.files.storage import storages
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from core.exceptions import Gone
from core.jobs import job_download_allowed, job_download_url, jobs_visible_to
from core.models import Job

NOT_YOURS = OpenApiResponse(description=_("No such job, or another person's."))


class JobOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField(
        help_text=_("The file's link (finished exports) while the file exists; it expires. Null otherwise.")
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "done",
            "total",
            "failures",
            "download_url",
            "created_at",
            "finished_at",
        ]

    def get_download_url(self, job: Job) -> str | None:
        path = job_download_url(job)
        return None if path is None else self.context["request"].build_absolute_uri(path)


class JobMixin:
    # Staff, on their own jobs, while they hold the permission the job's
    # result needs (an export of purchases: purchases.view_purchase).
    permission_classes = [IsAdminUser]

    def get_job(self) -> Job:
        job = jobs_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if job is None:
            raise NotFound()
        if not self.request.user.has_perm(job.permission):
            raise PermissionDenied()
        return job


class JobView(JobMixin, GenericAPIView):
    path_parameter_description = _("The job's id.")
    serializer_class = JobOutputSerializer

    @extend_schema(
        summary=_("Follow a job (staff)"),
        description=_(
            "State, progress and result of a background job started by whoever asks (an export or a "
            "bulk review). `download_url` appears when an export is done and stops working when its "
            "file expires (JOB_FILE_SECONDS). Other people's jobs: 404."
        ),
        tags=["jobs"],
        responses={200: JobOutputSerializer, 404: NOT_YOURS},
    )
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_job()).data)


class JobDownloadView(JobMixin, GenericAPIView):
    path_parameter_description = _("The job's id.")

    @extend_schema(
        summary=_("Download a job's file (staff)"),
        description=_(
            "An export's file, through the link in `download_url` (which carries the signed `token`). "
            "Only whoever started the job opens it, and only until the file expires: then 410."
        ),
        tags=["jobs"],
        parameters=[
            OpenApiParameter("token", OpenApiTypes.STR, required=True, description=_("The link's signature."))
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description=_("The CSV file.")),
            400: OpenApiResponse(description=_("No `token`.")),
            404: NOT_YOURS,
            410: OpenApiResponse(description=_("The link has expired or its file was removed.")),
        },
    )
    def get(self, request, pk):
        token = request.query_params.get("token")
        if token is None:
            raise ValidationError({"token": [_("This field is required.")]}, code="required")
        job = self.get_job()
        allowed = job_download_allowed(job, token)
        if allowed is None:
            raise NotFound()
        if not allowed:
            raise Gone()
        return job_file_response(job)


def job_file_response(job: Job) -> FileResponse:
    storage = storages["jobs"]
    filename = job.file.rsplit("/", 1)[-1]
    return FileResponse(
        storage.open(job.file, "rb"), as_attachment=True, filename=filename, content_type="text/csv"
    )
