from django.contrib.auth.models import update_last_login
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenRefreshView

from accounts.serializers import (
    LoginInputSerializer,
    LogoutInputSerializer,
    PasswordChangeInputSerializer,
    TokenPairOutputSerializer,
    TokenRefreshInputSerializer,
    tokens_for,
)
from accounts.services import user_password_change
from accounts.throttles import LoginAddressThrottle, LoginFailureThrottle, PasswordChangeThrottle

TOKEN_PAIR_EXAMPLE = OpenApiExample(
    "Token pair",
    value={"access": "eyJhbGciOiJIUzI1NiIs...", "refresh": "eyJhbGciOiJIUzI1NiIs..."},
    response_only=True,
)


class LoginView(GenericAPIView):
    serializer_class = LoginInputSerializer
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle, LoginFailureThrottle]

    def get_authenticate_header(self, request):
        # Without it DRF would turn the 401 for bad credentials into a 403.
        return 'Bearer realm="api"'

    @extend_schema(
        summary="Log in",
        description=(
            "Exchange `{email, password}` or `{cpf, password}` for an access token "
            "(15 minutes) and a refresh token (7 days). Any wrong credential gets the "
            "same 401 answer. Throttled per client address (every attempt) and per account "
            "and address (failed attempts; the e-mail and the CPF of one account share the "
            "budget). 503 when the attempt counter is unavailable: logins are refused "
            "rather than let through unthrottled."
        ),
        tags=["auth"],
        responses={
            200: TokenPairOutputSerializer,
            400: OpenApiResponse(description="Neither or both identifiers sent"),
            401: OpenApiResponse(description="Invalid credentials"),
            429: OpenApiResponse(description="Too many attempts"),
        },
        examples=[
            OpenApiExample(
                "With e-mail",
                value={"email": "maria@example.com", "password": "s3nha-Forte-2024"},
                request_only=True,
            ),
            OpenApiExample(
                "With CPF",
                value={"cpf": "153.509.460-56", "password": "s3nha-Forte-2024"},
                request_only=True,
            ),
            TOKEN_PAIR_EXAMPLE,
        ],
        auth=[],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        update_last_login(None, user)
        return Response(tokens_for(user))


class RefreshView(TokenRefreshView):
    serializer_class = TokenRefreshInputSerializer

    @extend_schema(
        summary="Refresh the tokens",
        description=(
            "Exchange a refresh token for a new access token and a new refresh token. "
            "The refresh token sent is blacklisted: using it again answers 401."
        ),
        tags=["auth"],
        responses={200: TokenPairOutputSerializer, 401: OpenApiResponse(description="Invalid token")},
        examples=[TOKEN_PAIR_EXAMPLE],
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(GenericAPIView):
    serializer_class = LogoutInputSerializer

    @extend_schema(
        summary="Log out",
        description="Blacklist the given refresh token (it must be the caller's own).",
        tags=["auth"],
        responses={204: None, 401: OpenApiResponse(description="Invalid token")},
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.validated_data["refresh"].blacklist()
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(GenericAPIView):
    serializer_class = PasswordChangeInputSerializer
    permission_classes = [IsAuthenticated]
    throttle_classes = [PasswordChangeThrottle]

    @extend_schema(
        summary="Change the password",
        description=(
            "Checks the current password and validates the new one with the password rules "
            "(length, similarity to name and e-mail, common passwords, digits only). On success "
            "every refresh token of the account is blacklisted: other sessions end, and this "
            "one logs in again when its access token expires. Throttled per account; answers "
            "503 rather than skipping the count when the throttle's store is down."
        ),
        tags=["auth"],
        responses={204: None},
        examples=[
            OpenApiExample(
                "Change",
                value={"current_password": "s3nha-Antiga-2024", "new_password": "0utra-Senha-2025"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_change(user=request.user, new_password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
