from django.contrib.auth.models import update_last_login
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.views import TokenRefreshView

from accounts.serializers import (
    PASSWORD_RESET_REQUESTED_MESSAGE,
    LoginInputSerializer,
    LogoutInputSerializer,
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
    PasswordResetRequestedOutputSerializer,
    TokenPairOutputSerializer,
    TokenRefreshInputSerializer,
    tokens_for,
)
from accounts.services import (
    INVALID_RESET_LINK_MESSAGE,
    refresh_token_redeem,
    user_password_reset_confirm,
    user_password_reset_request,
    user_password_set,
)
from accounts.throttles import (
    LoginAddressThrottle,
    LoginFailureThrottle,
    PasswordChangeThrottle,
    PasswordResetAddressThrottle,
    PasswordResetEmailThrottle,
)

TOKEN_PAIR_EXAMPLE = OpenApiExample(
    "Token pair",
    summary=_("Token pair"),
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

    def finalize_response(self, request, response, *args, **kwargs):
        # Whatever the answer, unless the credentials were wrong, the attempt
        # gives back the slot of the failure budget it took.
        LoginFailureThrottle.end_attempt(request)
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        summary=pgettext_lazy("API operation", "Log in"),
        description=_(
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
            400: OpenApiResponse(description=_("Neither or both identifiers sent")),
            401: OpenApiResponse(description=_("Invalid credentials")),
            429: OpenApiResponse(description=_("Too many attempts")),
        },
        examples=[
            OpenApiExample(
                "With e-mail",
                summary=_("With e-mail"),
                value={"email": "maria@example.com", "password": "s3nha-Forte-2024"},
                request_only=True,
            ),
            OpenApiExample(
                "With CPF",
                summary=_("With CPF"),
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
        summary=_("Refresh the tokens"),
        description=_(
            "Exchange a refresh token for a new access token and a new refresh token. "
            "A refresh token works once: the one sent is blacklisted, and using it again "
            "answers 401 (of concurrent requests with one token, exactly one gets a new pair). "
            "A token issued before the account's password last changed, however it was "
            "changed, answers 401 too."
        ),
        tags=["auth"],
        responses={200: TokenPairOutputSerializer, 401: OpenApiResponse(description=_("Invalid token"))},
        examples=[TOKEN_PAIR_EXAMPLE],
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(GenericAPIView):
    serializer_class = LogoutInputSerializer

    @extend_schema(
        summary=pgettext_lazy("API operation", "Log out"),
        description=_(
            "Blacklist the given refresh token (it must be the caller's own). A token "
            "already used (refreshed or logged out), expired, or not signed by this server "
            "answers 401; a value that is not a token at all (malformed) answers 400 on `refresh`."
        ),
        tags=["auth"],
        responses={
            204: None,
            400: OpenApiResponse(description=_("`refresh` missing or malformed (not a JWT)")),
            401: OpenApiResponse(description=_("Invalid, expired or already used token")),
        },
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh_token_redeem(token=serializer.validated_data["refresh"], user=request.user)
        except TokenError as exc:  # already used or logged out, maybe a moment ago
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(GenericAPIView):
    serializer_class = PasswordChangeInputSerializer
    permission_classes = [IsAuthenticated]
    throttle_classes = [PasswordChangeThrottle]

    @extend_schema(
        summary=_("Change the password"),
        description=_(
            "Checks the current password and validates the new one with the password rules "
            "(length, similarity to name and e-mail, common passwords, digits only). On success "
            "every session of the account ends: no refresh token issued before the change "
            "renews any more, and access tokens issued before it (this request's too) are "
            "refused from the next request, except by the catalogue's reads, which trust the "
            "token alone until it expires (15 minutes). Throttled per account; answers "
            "503 rather than skipping the count when the throttle's store is down."
        ),
        tags=["auth"],
        responses={204: None},
        examples=[
            OpenApiExample(
                "Change",
                summary=_("Password change"),
                value={"current_password": "s3nha-Antiga-2024", "new_password": "0utra-Senha-2025"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_set(user=request.user, new_password=serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(GenericAPIView):
    serializer_class = PasswordResetInputSerializer
    # Anonymous: a client that forgot the password may still hold an expired token.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetAddressThrottle, PasswordResetEmailThrottle]

    @extend_schema(
        summary=_("Ask for a password reset link"),
        description=_(
            "E-mails a link to choose a new password to the active account that uses this "
            "address (in the request's language: Portuguese, or English with "
            "`Accept-Language: en`). The answer is the same 202, with the same body, whether "
            "or not an account uses the address, and takes as long either way. The link "
            "(`PASSWORD_RESET_URL` on `PUBLIC_BASE_URL`, never on the request's host: by default "
            "this server's page `/conta/redefinir-senha/?uid=…&token=…`, which asks for the new "
            "password; a consumer app's page, when configured, sends the `uid` and `token` to "
            "`POST /api/v1/auth/password/reset/confirm/`) works once, for one hour at most, and "
            "dies when the password changes. Throttled per client address and per e-mail "
            "address (`PASSWORD_RESET_THROTTLE_RATE`); answers 503 rather than skipping the "
            "count when the throttle's store is down."
        ),
        tags=["auth"],
        responses={
            202: PasswordResetRequestedOutputSerializer,
            429: OpenApiResponse(
                description=_("Too many reset requests from this address or for this e-mail")
            ),
        },
        examples=[
            OpenApiExample(
                "Request", summary=_("Reset request"), value={"email": "maria@example.com"}, request_only=True
            ),
            OpenApiExample(
                "Accepted",
                summary=_("Request accepted"),
                value={"detail": PASSWORD_RESET_REQUESTED_MESSAGE},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        auth=[],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_reset_request(email=serializer.validated_data["email"])
        return Response({"detail": str(PASSWORD_RESET_REQUESTED_MESSAGE)}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(GenericAPIView):
    serializer_class = PasswordResetConfirmInputSerializer
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary=_("Choose a new password with a reset link"),
        description=_(
            "Sets the new password of the account the link's `uid` and `token` name, after the "
            "password rules (length, similarity to name and e-mail, common passwords, digits "
            "only), and ends every session, as a password change does. "
            "An unknown account, or a token that is wrong, used, expired or issued before the "
            "password last changed, gets one 400 on `token`; a password that breaks the rules "
            "gets a 400 on `new_password`, and the link can be used again."
        ),
        tags=["auth"],
        responses={
            204: None,
            400: OpenApiResponse(
                # The shared component (core.schema), to carry the examples.
                response={"$ref": "#/components/schemas/ValidationError"},
                description=_("Invalid or expired link, or a password that breaks the rules"),
                examples=[
                    OpenApiExample(
                        "Invalid link",
                        summary=_("Invalid link"),
                        value={"token": [INVALID_RESET_LINK_MESSAGE]},
                    ),
                    OpenApiExample(
                        "Weak password",
                        summary=_("Weak password"),
                        # Django's own message (its catalogue translates it).
                        value={"new_password": [_("This password is too common.")]},
                    ),
                ],
            ),
        },
        examples=[
            OpenApiExample(
                "Confirm",
                summary=_("New password with the link"),
                value={
                    "uid": "MTIz",
                    "token": "cf8k2p-6a1f0f4b8e2c9d7a5b3f",
                    "new_password": "0utra-Senha-2025",
                },
                request_only=True,
            ),
        ],
        auth=[],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
