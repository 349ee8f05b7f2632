from django.core.management.base import BaseCommand
from django.db import transaction

from resellers import cpf as cpf_codec
from resellers.models import Reseller


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored CPF with the first key of CPF_ENCRYPTION_KEYS "
        "(run after prepending a new key; the old key can then be removed). "
        "With --reindex, also recompute the blind index with CPF_BLIND_INDEX_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--reindex",
            action="store_true",
            help="Recompute the HMAC lookup column (after changing CPF_BLIND_INDEX_KEY).",
        )

    def handle(self, *args, batch_size, reindex, **options):
        fields = ["cpf_encrypted", "cpf_index"] if reindex else ["cpf_encrypted"]
        done = 0
        last_id = 0
        while True:
            with transaction.atomic():
                batch = list(
                    Reseller.objects.select_for_update()
                    .filter(pk__gt=last_id)
                    .order_by("pk")
                    .only("pk", *fields)[:batch_size]
                )
                if not batch:
                    break
                for reseller in batch:
                    reseller.cpf_encrypted = cpf_codec.rotate(reseller.cpf_encrypted)
                    if reindex:
                        reseller.cpf_index = cpf_codec.blind_index(cpf_codec.decrypt(reseller.cpf_encrypted))
                Reseller.objects.bulk_update(batch, fields)
            done += len(batch)
            last_id = batch[-1].pk
        self.stdout.write(self.style.SUCCESS(f"{done} CPF(s) re-encrypted with the current primary key."))
