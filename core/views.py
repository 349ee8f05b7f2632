"""The staff's jobs through the API: following one, and downloading its file."""

from django.core.files.storage import storages
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from core.exceptions import Gone
from core.jobs import job_download_allowed, job_download_url, jobs_visible_to
from core.models import Job


class JobOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField(
        help_text=(
            "Link do arquivo (exportações concluídas) enquanto ele existe; expira. Nulo nos outros casos."
        )
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
    serializer_class = JobOutputSerializer

    @extend_schema(
        summary="Acompanhar uma tarefa (equipe)",
        description=(
            "Estado, progresso e resultado de uma tarefa em segundo plano iniciada por quem pergunta "
            "(exportação ou revisão em lote). `download_url` aparece quando a exportação termina e deixa "
            "de funcionar quando o arquivo expira (JOB_FILE_SECONDS). Tarefas de outras pessoas: 404."
        ),
        tags=["jobs"],
        responses={
            200: JobOutputSerializer,
            404: OpenApiResponse(description="Tarefa inexistente ou de outra pessoa."),
        },
    )
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_job()).data)


class JobDownloadView(JobMixin, GenericAPIView):
    @extend_schema(
        summary="Baixar o arquivo de uma tarefa (equipe)",
        description=(
            "O arquivo de uma exportação, pelo link de `download_url` (o `token` assinado vem nele). "
            "Só quem iniciou a tarefa o abre, e só até o arquivo expirar: depois, 410."
        ),
        tags=["jobs"],
        parameters=[
            OpenApiParameter("token", OpenApiTypes.STR, required=True, description="Assinatura do link.")
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="O arquivo CSV."),
            404: OpenApiResponse(description="Tarefa inexistente ou de outra pessoa."),
            410: OpenApiResponse(description="O link expirou ou o arquivo foi removido."),
        },
    )
    def get(self, request, pk):
        job = self.get_job()
        if not job_download_allowed(job, request.query_params.get("token", "")):
            raise Gone()
        return job_file_response(job)


def job_file_response(job: Job) -> FileResponse:
    storage = storages["jobs"]
    filename = job.file.rsplit("/", 1)[-1]
    return FileResponse(
        storage.open(job.file, "rb"), as_attachment=True, filename=filename, content_type="text/csv"
    )
