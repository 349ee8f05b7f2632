"""Report stored CPFs that the old parser let in with non-ASCII digits.

Before only ASCII digits were accepted, a CPF written in fullwidth digits
registered a second account for an existing CPF: it was stored as written,
so its blind index differed from the ASCII one. This command decrypts every
stored CPF, folds it to ASCII digits and reports, by reseller id only (never
the CPF), every CPF stored with non-ASCII digits and every group of resellers
that share one CPF. Exit status 1 when anything is found, so a deploy step can
stop on it; the accounts are then merged or closed by hand.
"""

import unicodedata
from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from resellers import cpf as cpf_codec
from resellers.models import Reseller


def ascii_digits(value: str) -> str:
    """Every Unicode decimal digit as its ASCII digit; other characters kept."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in value)


class Command(BaseCommand):
    help = "Report CPFs stored with non-ASCII digits and resellers sharing one CPF (by id only)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, batch_size, **options):
        by_cpf: dict[str, list[int]] = defaultdict(list)
        non_ascii: list[int] = []
        queryset = Reseller.objects.order_by("pk").only("pk", "cpf_encrypted")
        # In a transaction: the rows are streamed (a server-side cursor), also
        # behind a transaction pooler.
        with transaction.atomic():
            for reseller in queryset.iterator(chunk_size=batch_size):
                stored = cpf_codec.decrypt(reseller.cpf_encrypted)
                folded = ascii_digits(stored)
                if folded != stored:
                    non_ascii.append(reseller.pk)
                by_cpf[folded].append(reseller.pk)
        duplicates = [ids for ids in by_cpf.values() if len(ids) > 1]

        for pk in non_ascii:
            self.stdout.write(f"reseller {pk}: CPF stored with non-ASCII digits")
        for ids in duplicates:
            self.stdout.write(f"resellers {', '.join(map(str, ids))}: the same CPF")
        if non_ascii or duplicates:
            raise CommandError(
                f"{len(non_ascii)} CPF(s) with non-ASCII digits, {len(duplicates)} CPF(s) shared by "
                "several resellers."
            )
        self.stdout.write(self.style.SUCCESS(f"{sum(map(len, by_cpf.values()))} CPF(s) checked: no problem."))
