from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

from accounts.permissions import IsReseller, StaffPermissions
from core.cache import canonical_url
from core.filters import FilterBackend, StableOrderingFilter
from core.parsing import ID_PATTERN, MAX_ID
from products.filters import ProductFilter
from products.models import Product
from products.selectors import (
    catalogue_answer,
    catalogue_cache_seconds,
    category_list,
    favorite_list,
    product_list,
)
from products.serializers import (
    CategoryInputSerializer,
    CategoryOutputSerializer,
    ProductDeactivatedOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
)
from products.services import (
    PRODUCT_DEACTIVATED_MESSAGE,
    category_create,
    category_delete,
    category_update,
    favorite_add,
    favorite_remove,
    product_create,
    product_delete,
    product_update,
)

CATEGORY_EXAMPLE = OpenApiExample(
    "Category",
    summary=_("Category"),
    value={"id": 3, "name": "Perfumaria", "slug": "perfumaria"},
    response_only=True,
)
PRODUCT_EXAMPLE_VALUE = {
    "id": 42,
    "sku": "PERF-0042",
    "name": "Colônia Floral 100 ml",
    "description": "Fragrância floral suave.",
    "category": {"id": 3, "name": "Perfumaria", "slug": "perfumaria"},
    "price": "59.90",
    "is_active": True,
}
PRODUCT_EXAMPLE = OpenApiExample(
    "Product", summary=_("Product"), value=PRODUCT_EXAMPLE_VALUE, response_only=True
)
PRODUCT_INPUT_EXAMPLE = OpenApiExample(
    "New product",
    summary=_("New product"),
    value={
        "sku": "perf-0042",
        "name": "Colônia Floral 100 ml",
        "description": "Fragrância floral suave.",
        "category": 3,
        "price": "59.90",
    },
    request_only=True,
)
DEACTIVATED_EXAMPLE = OpenApiExample(
    "Deactivated instead of deleted",
    summary=_("Deactivated instead of deleted"),
    value={
        "detail": PRODUCT_DEACTIVATED_MESSAGE,
        "product": {**PRODUCT_EXAMPLE_VALUE, "is_active": False},
    },
    response_only=True,
    status_codes=["200"],
)

UNAUTHENTICATED = OpenApiResponse(description=_("Not authenticated"))
NOT_STAFF = OpenApiResponse(description=_("Not staff, or without the permission this change needs"))
NOT_FOUND = OpenApiResponse(description=_("Not found (inactive products too, for non-staff)"))
INVALID = OpenApiResponse(description=_("Invalid fields, keyed by field name"))
RESELLERS_ONLY = OpenApiResponse(description=_("Resellers only"))
UNKNOWN_PRODUCT = OpenApiResponse(description=_("Unknown product"))
# What every read of the catalogue shares.
CACHED_READ = _(
    "Answers are cached and made fresh by any change to the catalogue. The access token "
    "alone authorises a read: an account deactivated, or staff demoted, reads as before "
    "until its token expires (15 minutes)."
)
STAFF_WRITE = _(
    "Staff only, with the permission the change needs; every change to the catalogue "
    "makes the cached reads fresh."
)


class CatalogueReadMixin:
    """Reads of the catalogue, cached and authenticated from the token alone.

    GET/HEAD/OPTIONS use JWTStatelessUserAuthentication: the user is built
    from the access token's claims (``is_staff`` included, see
    accounts.serializers.tokens_for) without reading the users table, so a
    cached answer is served without a single query. The trade-off: a user
    deactivated, or a staff member demoted, keeps reading the catalogue as
    before until the access token expires (15 minutes). Writes use the normal
    database-backed JWTAuthentication, so they always see the current user.

    List and detail answers are cached for PRODUCTS_CACHE_SECONDS under the
    catalogue's versioned namespace (see selectors.catalogue_answer); the
    services bump the version after every catalogue write.
    """

    def get_authenticators(self):
        # self.request is Django's request here (View.setup runs before
        # initialize_request builds DRF's), so the method is known.
        request = getattr(self, "request", None)
        # The schema documents the one Bearer scheme the whole API uses: both
        # classes read the same header and token.
        schema_generation = getattr(self, "swagger_fake_view", False)
        if request is not None and request.method in SAFE_METHODS and not schema_generation:
            return [JWTStatelessUserAuthentication()]
        return super().get_authenticators()

    def get_permissions(self):
        if self.request.method in SAFE_METHODS:
            return [IsAuthenticated()]
        return [StaffPermissions()]

    def list(self, request, *args, **kwargs):
        return self._cached(request, super().list, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        return self._cached(request, super().retrieve, *args, **kwargs)

    def _cached(self, request, render, *args, **kwargs):
        # The versions are read before the database: an answer built while a
        # write commits is stored with the old ones, which nobody serves.
        # Only successes are kept: errors (404, bad filters) are raised, cheap,
        # and may change.
        answer = catalogue_answer(is_staff=bool(request.user.is_staff), url=canonical_url(request))
        return Response(
            answer.get_or_set(
                lambda: render(request, *args, **kwargs).data, timeout=catalogue_cache_seconds()
            )
        )


class CatalogueWriteMixin:
    """Staff writes of a catalogue resource: the input serializer validates,
    a service writes, the output serializer answers. Subclasses name the
    input serializer, say which service creates and which updates, and which
    permission staff need for each write (``staff_permissions``, checked by
    StaffPermissions)."""

    input_serializer_class: type

    def perform_service_create(self, data: dict):
        raise NotImplementedError

    def perform_service_update(self, instance, data: dict):
        raise NotImplementedError

    def create(self, request):
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_create(serializer.validated_data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        instance = self.get_object()
        serializer = self.input_serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_update(instance, serializer.validated_data)
        return Response(self.get_serializer(instance).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)


@extend_schema_view(
    list=extend_schema(
        summary=_("List products"),
        description=format_lazy(
            "{} {}",
            _(
                "Paginated catalogue, by name unless `ordering` says otherwise. Staff see inactive "
                "products too and may filter by `is_active`; everyone else sees only active products."
            ),
            CACHED_READ,
        ),
        tags=["products"],
        responses={200: ProductOutputSerializer, 400: INVALID, 401: UNAUTHENTICATED},
        examples=[PRODUCT_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary=_("Product detail"),
        description=format_lazy(
            "{} {}", _("One product; an inactive one is found by staff only."), CACHED_READ
        ),
        tags=["products"],
        responses={200: ProductOutputSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        examples=[PRODUCT_EXAMPLE],
    ),
    create=extend_schema(
        summary=_("Create a product (staff)"),
        description=format_lazy(
            "{} {}",
            _(
                "The SKU is stored in upper case and must be unique in any case; the product is "
                "active unless `is_active` is false, and its description empty when omitted."
            ),
            STAFF_WRITE,
        ),
        tags=["products"],
        request=ProductInputSerializer,
        responses={201: ProductOutputSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_STAFF},
        examples=[PRODUCT_INPUT_EXAMPLE, PRODUCT_EXAMPLE],
    ),
    update=extend_schema(
        summary=_("Replace a product (staff)"),
        description=format_lazy(
            "{} {}", _("An omitted `description` or `is_active` keeps its current value."), STAFF_WRITE
        ),
        tags=["products"],
        request=ProductInputSerializer,
        responses={
            200: ProductOutputSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
        },
        examples=[PRODUCT_INPUT_EXAMPLE, PRODUCT_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary=_("Change a product (staff)"),
        description=format_lazy("{} {}", _("Changes only the fields sent."), STAFF_WRITE),
        tags=["products"],
        request=ProductInputSerializer(partial=True),
        responses={
            200: ProductOutputSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
        },
        examples=[
            OpenApiExample("New price", summary=_("New price"), value={"price": "64.90"}, request_only=True),
            OpenApiExample(
                "Reactivate", summary=_("Reactivate"), value={"is_active": True}, request_only=True
            ),
            PRODUCT_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        summary=_("Delete a product (staff)"),
        description=_(
            "Deletes the product (204). A product referenced by purchases is kept for "
            "their history and deactivated instead (200, with the product)."
        ),
        tags=["products"],
        responses={
            200: ProductDeactivatedOutputSerializer,
            204: OpenApiResponse(description=_("Deleted")),
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
        },
        examples=[DEACTIVATED_EXAMPLE],
    ),
)
class ProductViewSet(
    CatalogueReadMixin,
    CatalogueWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ProductOutputSerializer
    input_serializer_class = ProductInputSerializer
    staff_permissions = {
        "create": ["products.add_product"],
        "update": ["products.change_product"],
        "partial_update": ["products.change_product"],
        "destroy": ["products.delete_product"],
    }
    filter_backends = [FilterBackend, StableOrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["name", "price", "created_at"]
    ordering = ["name"]
    lookup_value_regex = ID_PATTERN
    path_parameter_description = _("The product's id.")

    def get_queryset(self):
        return product_list(user=self.request.user)

    def perform_service_create(self, data):
        return product_create(**data)

    def perform_service_update(self, instance, data):
        return product_update(product=instance, data=data)

    def destroy(self, request, pk=None):
        deactivated = product_delete(product=self.get_object())
        if deactivated is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = {"detail": PRODUCT_DEACTIVATED_MESSAGE, "product": deactivated}
        return Response(ProductDeactivatedOutputSerializer(body).data)


@extend_schema_view(
    list=extend_schema(
        summary=_("List categories"),
        description=format_lazy("{} {}", _("Every category, by name, paginated."), CACHED_READ),
        tags=["categories"],
        responses={200: CategoryOutputSerializer, 401: UNAUTHENTICATED},
        examples=[CATEGORY_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary=_("Category detail"),
        description=format_lazy("{} {}", _("One category."), CACHED_READ),
        tags=["categories"],
        responses={200: CategoryOutputSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        examples=[CATEGORY_EXAMPLE],
    ),
    create=extend_schema(
        summary=_("Create a category (staff)"),
        description=format_lazy(
            "{} {}", _("The slug is made from the name when omitted; both must be unique."), STAFF_WRITE
        ),
        tags=["categories"],
        request=CategoryInputSerializer,
        responses={201: CategoryOutputSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_STAFF},
        examples=[
            OpenApiExample(
                "New category", summary=_("New category"), value={"name": "Perfumaria"}, request_only=True
            ),
            CATEGORY_EXAMPLE,
        ],
    ),
    update=extend_schema(
        summary=_("Replace a category (staff)"),
        description=format_lazy(
            "{} {}", _("The slug is made from the name when omitted; both must be unique."), STAFF_WRITE
        ),
        tags=["categories"],
        request=CategoryInputSerializer,
        responses={
            200: CategoryOutputSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
        },
        examples=[CATEGORY_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary=_("Change a category (staff)"),
        description=format_lazy("{} {}", _("Changes only the fields sent."), STAFF_WRITE),
        tags=["categories"],
        request=CategoryInputSerializer(partial=True),
        responses={
            200: CategoryOutputSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
        },
        examples=[CATEGORY_EXAMPLE],
    ),
    destroy=extend_schema(
        summary=_("Delete a category (staff)"),
        description=format_lazy(
            "{} {}", _("Only an empty category can be deleted; one with products answers 409."), STAFF_WRITE
        ),
        tags=["categories"],
        responses={
            204: OpenApiResponse(description=_("Deleted")),
            401: UNAUTHENTICATED,
            403: NOT_STAFF,
            404: NOT_FOUND,
            409: OpenApiResponse(description=_("The category still has products")),
        },
    ),
)
class CategoryViewSet(
    CatalogueReadMixin,
    CatalogueWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CategoryOutputSerializer
    input_serializer_class = CategoryInputSerializer
    staff_permissions = {
        "create": ["products.add_category"],
        "update": ["products.change_category"],
        "partial_update": ["products.change_category"],
        "destroy": ["products.delete_category"],
    }
    filter_backends = []
    lookup_value_regex = ID_PATTERN
    path_parameter_description = _("The category's id.")

    def get_queryset(self):
        return category_list()

    def perform_service_create(self, data):
        return category_create(**data)

    def perform_service_update(self, instance, data):
        return category_update(category=instance, data=data)

    def destroy(self, request, pk=None):
        category_delete(category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class FavoriteListView(generics.ListAPIView):
    serializer_class = ProductOutputSerializer
    permission_classes = [IsReseller]
    filter_backends = []

    def get_queryset(self):
        return favorite_list(reseller=self.request.user.reseller)

    @extend_schema(
        summary=_("List own favourite products"),
        description=_("Newest favourite first. Products deactivated since are left out."),
        tags=["favorites"],
        responses={
            200: ProductOutputSerializer,
            401: UNAUTHENTICATED,
            403: RESELLERS_ONLY,
        },
        examples=[PRODUCT_EXAMPLE],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        products = [favorite.product for favorite in page]
        return self.get_paginated_response(ProductOutputSerializer(products, many=True).data)


PRODUCT_ID_PARAMETER = OpenApiParameter(
    "product_id", int, OpenApiParameter.PATH, description=_("The product's id.")
)


def _check_id(product_id: int) -> None:
    # <int:...> matches any length of digits; no row has an id beyond the
    # 64-bit range, and SQLite would not even take it as a parameter.
    if product_id > MAX_ID:
        raise NotFound


class FavoriteDetailView(APIView):
    permission_classes = [IsReseller]

    @extend_schema(
        summary=_("Add a favourite product"),
        description=_(
            "Idempotent: 201 when the product becomes a favourite, 200 when it already "
            "was one; both answer with the product."
        ),
        tags=["favorites"],
        parameters=[PRODUCT_ID_PARAMETER],
        request=None,
        responses={
            200: ProductOutputSerializer,
            201: ProductOutputSerializer,
            400: OpenApiResponse(description=_("The product is inactive")),
            401: UNAUTHENTICATED,
            403: RESELLERS_ONLY,
            404: UNKNOWN_PRODUCT,
        },
        examples=[PRODUCT_EXAMPLE],
    )
    def put(self, request, product_id: int):
        _check_id(product_id)
        try:
            favorite, created = favorite_add(reseller=request.user.reseller, product_id=product_id)
        except Product.DoesNotExist as exc:
            raise NotFound from exc
        return Response(
            ProductOutputSerializer(favorite.product).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary=_("Remove a favourite product"),
        description=_(
            "Idempotent: 204 whether or not the product was a favourite; 404 for an unknown product."
        ),
        tags=["favorites"],
        parameters=[PRODUCT_ID_PARAMETER],
        request=None,
        responses={
            204: OpenApiResponse(description=_("Not a favourite (any more)")),
            401: UNAUTHENTICATED,
            403: RESELLERS_ONLY,
            404: UNKNOWN_PRODUCT,
        },
    )
    def delete(self, request, product_id: int):
        _check_id(product_id)
        try:
            favorite_remove(reseller=request.user.reseller, product_id=product_id)
        except Product.DoesNotExist as exc:
            raise NotFound from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
