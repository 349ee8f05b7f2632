"""Access tokens for the load test's users, made by the application itself.

Run by bench/loadtest.py in the application's directory, with its
environment (settings, SECRET_KEY): reads a JSON list of user ids on stdin
and prints one access token per id, in the same order. The tokens are the
ones a login answers (``accounts.serializers.tokens_for`` when the
application has it, or an access token with the same claims), without the
login's password hash: at production settings each login costs a fraction
of a second of CPU, and the mixed workload speaks for thousands of
resellers.
"""

import json
import os
import sys


def main() -> None:
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    try:
        from accounts.serializers import tokens_for
    except ImportError:
        tokens_for = None
    from rest_framework_simplejwt.tokens import AccessToken

    ids = json.load(sys.stdin)
    users = get_user_model().objects.in_bulk(ids)
    missing = [user_id for user_id in ids if user_id not in users]
    if missing:
        sys.exit(f"No user with id {missing[:5]}")

    def quick(user) -> str:
        access = AccessToken.for_user(user)
        access["is_staff"] = user.is_staff
        return str(access)

    make = quick
    if tokens_for is not None:
        # The login's own function records a refresh token per call (a row
        # for the blacklist): thousands cost seconds. The access token alone
        # is made directly when it carries the same claims as the login's.
        first = users[ids[0]]
        login_claims = set(AccessToken(tokens_for(first)["access"]).payload)
        if login_claims != set(AccessToken(quick(first)).payload):
            make = lambda user: tokens_for(user)["access"]  # noqa: E731
    with transaction.atomic():
        for user_id in ids:
            sys.stdout.write(make(users[user_id]) + "\n")


if __name__ == "__main__":
    main()
