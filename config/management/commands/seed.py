import argparse
import time
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from config.seeding import generate, store
from core import cache
from purchases.analytics.services import analytics_figures_rebuild
from resellers import cpf as cpf_codec
from resellers.selectors import auto_approved_cpf_indexes


def at_least(minimum: int):
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return number

    return parse


class Command(BaseCommand):
    help = (
        "Seed deterministic demo data: a staff login, resellers (one with CPF 153.509.460-56), "
        "a catalogue and purchases with their cashback; prints the logins at the end. "
        f"Demo passwords: {generate.STAFF_EMAIL} / {generate.STAFF_PASSWORD}; {generate.DEMO_EMAIL} and "
        f"revendedor-NNNNN@{generate.RESELLER_EMAIL_DOMAIN} / {generate.RESELLER_PASSWORD}. "
        "Idempotent: every seeded object has a fixed natural key (e-mail, category slug, SKU "
        f"{generate.SKU_PREFIX}NNNN) and is created only when missing; purchases are generated only "
        "for resellers created by the same run, so running again with the same flags creates "
        "nothing, and a larger --resellers adds only the new resellers with their purchases. "
        "Existing rows are never changed: to seed other sizes or another --seed, add --reset, which "
        "deletes the seeded logins (and every e-mail on the seed's domain), their purchases and "
        "month rows, and the seeded products and categories nothing else uses, then seeds again. "
        "Everything runs in one transaction: an interrupted run leaves nothing behind."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", type=int, default=42, help="Random seed: the same seed and sizes give the same data."
        )
        parser.add_argument(
            "--resellers", type=at_least(1), default=20, help=f"Resellers, {generate.DEMO_EMAIL} included."
        )
        parser.add_argument(
            "--purchases",
            type=at_least(0),
            default=200,
            help="Purchases in all, spread unevenly over the resellers.",
        )
        parser.add_argument("--products", type=at_least(0), default=30, help="Catalogue products.")
        parser.add_argument(
            "--months",
            type=at_least(1),
            default=6,
            help="Purchases are dated over the last N calendar months, up to today (America/Sao_Paulo).",
        )
        parser.add_argument("--reset", action="store_true", help="Delete the seeded data first, then seed.")
        parser.add_argument("--batch-size", type=at_least(1), default=5000, help="Rows per bulk insert.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        started = time.perf_counter()
        today = timezone.localdate()
        seed, batch_size = options["seed"], options["batch_size"]
        with transaction.atomic():
            outcome = Outcome(deleted=store.delete_seeded_data() if options["reset"] else {})
            staff, outcome.staff_created = store.ensure_staff()
            categories, outcome.categories = store.ensure_categories()
            product_specs = generate.product_specs(seed, options["products"])
            outcome.products = store.ensure_products(product_specs, categories)
            outcome.setup = store.ensure_resellers(
                generate.reseller_specs(seed, options["resellers"]), batch_size=batch_size
            )
            writer = store.writer_for(staff_id=staff.pk, now=timezone.now(), batch_size=batch_size)
            self._write_purchases(
                writer,
                outcome.setup,
                generate.purchase_counts(seed, options["purchases"], options["resellers"]),
                seed=seed,
                first_day=generate.first_month(today, options["months"]),
                today=today,
                catalogue=store.catalogue_for_items(product_specs),
                progress=self._progress(options),
            )
            outcome.written = writer.counts
            # The bulk writes skip the services: the analytics figures they
            # would maintain are built here from the rows, set-based, and the
            # namespaces they would invalidate are invalidated (core.cache
            # lists them).
            if outcome.deleted or outcome.written.purchases:
                analytics_figures_rebuild()
            if outcome.deleted or outcome.products or outcome.categories:
                cache.invalidate(cache.CATALOGUE)
            if outcome.deleted or outcome.written.purchases:
                cache.invalidate(cache.ANALYTICS)
        if outcome.written.purchases:
            store.analyze()
        if options["verbosity"] > 0:
            self._report(outcome, resellers=options["resellers"], elapsed=time.perf_counter() - started)

    def _progress(self, options):
        """How the purchases' progress is shown: tqdm's bar on a terminal,
        a line per tenth elsewhere (a container's log, CI), where a bar is
        one endless line that only shows at the end."""
        if options["no_progress"] or options["verbosity"] == 0:
            return lambda total: tqdm(total=total, disable=True)
        if self.stderr.isatty():
            # The raw stream: the wrapper ends every write with a newline.
            return lambda total: tqdm(total=total, unit=" purchases", file=self.stderr._out)
        return lambda total: ProgressLines(self.stderr, total)

    @staticmethod
    def _write_purchases(writer, setup, counts, *, seed, first_day, today, catalogue, progress):
        """Generate each new reseller's purchases with their cashback and
        write them in batches, so memory stays flat whatever the size."""
        auto_approved = auto_approved_cpf_indexes()
        policies = generate.policy_lookup()
        total = sum(counts[spec.index] for spec, _ in setup.created)
        batch, months = [], []
        with progress(total) as bar:
            for spec, owner in setup.created:
                rows = generate.generate_purchases(
                    seed=seed,
                    reseller_index=spec.index,
                    count=counts[spec.index],
                    first_day=first_day,
                    today=today,
                    products=catalogue,
                    auto_approved=cpf_codec.lookup_index(spec.cpf) in auto_approved,
                )
                months.extend((owner, month) for month in generate.apply_cashback(rows, policies))
                batch.extend((owner, row) for row in rows)
                if len(batch) >= writer.batch_size:
                    writer.write(batch, months)
                    bar.update(len(batch))
                    batch, months = [], []
            if batch or months:
                writer.write(batch, months)
                bar.update(len(batch))

    def _report(self, outcome: "Outcome", *, resellers: int, elapsed: float) -> None:
        if outcome.deleted:
            self.stdout.write(
                "Reset: deleted {users} logins, {purchases} purchases ({items} items), {months} month rows, "
                "{products} products, {categories} categories.".format(**outcome.deleted)
            )
        written = outcome.written
        if outcome.created_anything:
            staff = " and the staff login" if outcome.staff_created else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {len(outcome.setup.created)} resellers{staff}, "
                    f"{outcome.categories} categories, {outcome.products} products, "
                    f"{written.purchases} purchases ({written.items} items), "
                    f"{written.months} monthly cashback rows in {elapsed:.1f} s."
                )
            )
        else:
            self.stdout.write(
                f"Demo data already present: nothing created in {elapsed:.1f} s (use --reset to seed again)."
            )
        for spec in outcome.setup.cpf_taken:
            self.stderr.write(
                self.style.WARNING(f"Skipped {spec.email}: its CPF belongs to an account outside the seed.")
            )
        self.stdout.write("Logins (demo passwords, for a demo database only):")
        self.stdout.write(f"  staff     {generate.STAFF_EMAIL} / {generate.STAFF_PASSWORD}   (also /admin/)")
        self.stdout.write(
            f"  reseller  {generate.DEMO_EMAIL} / {generate.RESELLER_PASSWORD}   "
            f"(CPF {cpf_codec.format_cpf(generate.DEMO_CPF)}, purchases auto-approved)"
        )
        if resellers > 1:
            self.stdout.write(
                f"  resellers {generate.reseller_email(1)} / {generate.RESELLER_PASSWORD}   "
                f"(… to {generate.reseller_email(resellers - 1)})"
            )
        if not outcome.created_anything:
            self.stdout.write("  (accounts that were already there keep the password they have)")


class ProgressLines:
    """tqdm's ``update`` as plain lines: one each time the count passes
    another tenth of the total (only the last tenth a batch passes)."""

    def __init__(self, stream, total: int):
        self.stream, self.total, self.done, self.shown = stream, total, 0, 0
        self.started = time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def update(self, count: int) -> None:
        self.done += count
        tenth = self.done * 10 // self.total if self.total else 0
        if tenth > self.shown:
            self.shown = tenth
            self.stream.write(
                f"Purchases: {self.done} of {self.total} ({tenth * 10} %), "
                f"{time.perf_counter() - self.started:.1f} s"
            )
            self.stream.flush()


@dataclass
class Outcome:
    deleted: dict[str, int]
    staff_created: bool = False
    categories: int = 0
    products: int = 0
    setup: store.ResellerSetup = field(default_factory=lambda: store.ResellerSetup([], []))
    written: store.WriteCounts = field(default_factory=store.WriteCounts)

    @property
    def created_anything(self) -> bool:
        return bool(self.staff_created or self.categories or self.products or self.setup.created)
