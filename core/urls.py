from django.urls import path

from core.views import JobDownloadView, JobView

urlpatterns = [
    path("jobs/<uuid:pk>/", JobView.as_view(), name="job-detail"),
    path("jobs/<uuid:pk>/download/", JobDownloadView.as_view(), name="job-download"),
]
