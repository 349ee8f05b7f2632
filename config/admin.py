"""The project's admin site: Django's, with its titles and a way for an app
to add a page that belongs to no model (the analytics chart), so that the
root URLconf needs to know no app's admin pages."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable[[HttpRequest], HttpResponse]
    name: str
    title: str


class AdminSite(admin.AdminSite):
    site_header = _("Reseller cashback — back office")
    site_title = _("Reseller cashback")
    index_title = _("Back office")

    def __init__(self, name="admin"):
        super().__init__(name)
        self._pages: list[AdminPage] = []

    def register_view(self, route: str, view, *, name: str, title: str) -> None:
        """Serve ``view`` at ``admin/<route>`` as ``admin:<name>``, for staff
        only (wrapped in ``admin_view``: never cached, CSRF-protected), and
        list it on the admin index under "Reports" with ``title``."""
        self._pages.append(AdminPage(route=route, view=view, name=name, title=title))

    def each_context(self, request):
        context = super().each_context(request)
        context["admin_pages"] = [
            {"title": page.title, "url": reverse(f"{self.name}:{page.name}", current_app=self.name)}
            for page in self._pages
        ]
        return context

    def get_urls(self):
        pages = [path(page.route, self.admin_view(page.view), name=page.name) for page in self._pages]
        return pages + super().get_urls()
