"""The load test's requests: the mixed workload (many resellers, random pages,
filters and orderings, staff lists and analytics, writes interleaved) and the
same-URL best case, written as request files for bench/loadtest.lua.

Everything random here comes from ``random.Random`` seeded with the run's
seed, the phase and the thread: the same dataset and flags give the same
requests, byte for byte. See bench/README.md ("The mixed workload").
"""

import bisect
import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

PAGE_SIZE = 50
# Random pages go from 1 to this, or to the last page the filters leave.
MAX_PAGE = 100
# Pages are drawn among the first 90 % of a list's rows: the writes of the
# run delete some, and a page past the end would answer 404.
PAGE_ROWS_SHARE = 0.9
# Zipf exponent of the resellers' activity: the k-th busiest reseller sends
# requests in proportion to 1 / k ** ZIPF_S.
ZIPF_S = 1.0
# Validating purchases (without items) read per reseller for the updates,
# deletes and reviews.
VALIDATING_PER_RESELLER = 200
# Codes of the purchases the mixed workload creates: MX<tag>-<thread>-<line>.
CODE_PREFIX = "MX"

# Route groups (the report's rows), in report order.
RESELLER_LIST = "reseller list"
STAFF_LIST = "staff list"
RESELLER_SUMMARY = "reseller month summary"
PRODUCT_LIST = "product list"
ANALYTICS_SUMMARY = "analytics summary"
ANALYTICS_MONTHLY = "analytics monthly"
ANALYTICS_TOP_RESELLERS = "analytics top-resellers"
ANALYTICS_TOP_PRODUCTS = "analytics top-products"
CREATE = "POST purchase (create)"
UPDATE = "PATCH purchase (validating)"
DELETE = "DELETE purchase (validating)"
APPROVE = "POST approve (staff)"

# Share of the requests, in percent: 90 % reads, 10 % writes.
MIX = {
    RESELLER_LIST: 40,
    STAFF_LIST: 20,
    RESELLER_SUMMARY: 5,
    PRODUCT_LIST: 15,
    ANALYTICS_SUMMARY: 2.5,
    ANALYTICS_MONTHLY: 2.5,
    ANALYTICS_TOP_RESELLERS: 2.5,
    ANALYTICS_TOP_PRODUCTS: 2.5,
    CREATE: 6,
    UPDATE: 1.5,
    DELETE: 1,
    APPROVE: 1.5,
}
WRITES = (CREATE, UPDATE, DELETE, APPROVE)
# The routes measured alone too (random parameters, nothing else at once): the
# reads, then each write, whose share of the mix gives it too few requests
# there to show its cost steadily.
ALONE = (RESELLER_LIST, STAFF_LIST, RESELLER_SUMMARY, PRODUCT_LIST, "analytics", *WRITES)
ANALYTICS = (ANALYTICS_SUMMARY, ANALYTICS_MONTHLY, ANALYTICS_TOP_RESELLERS, ANALYTICS_TOP_PRODUCTS)

# Filters of the purchase lists, with their weights.
RESELLER_FILTERS = {"none": 40, "month": 25, "status": 15, "month+status": 10, "dates": 5, "search": 5}
STAFF_FILTERS = {
    "none": 20,
    "month": 35,
    "status": 10,
    "month+status": 10,
    "reseller": 10,
    "dates": 10,
    "search": 5,
}
ORDERINGS = ["date", "-date", "value", "-value", "created_at", "-created_at"]
DEFAULT_ORDERING_SHARE = 0.4  # no ordering parameter: the list's default (-date, -id)
STATUSES = ["validating", "approved", "rejected"]

# Token number 1 is the staff's; resellers follow, busiest first.
STAFF_TOKEN = 1


@dataclass
class Reseller:
    reseller_id: int
    user_id: int
    # month (YYYY-MM) -> status -> purchases
    months: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(sum(statuses.values()) for statuses in self.months.values())


@dataclass
class Dataset:
    """What the requests are drawn from, read from the scratch database."""

    today: date
    staff_user_id: int
    resellers: list[Reseller]  # busiest first
    months: list[str]  # the months holding purchases, oldest first
    categories: list[int]
    products: list[int]  # active products
    validating: dict[int, list[int]]  # reseller id -> validating purchase ids
    staff_months: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self):
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for reseller in self.resellers:
            for month, statuses in reseller.months.items():
                for status, count in statuses.items():
                    totals[month][status] += count
        self.staff_months = {month: dict(statuses) for month, statuses in totals.items()}


def load_dataset(conn, today: date) -> Dataset:
    """One pass over the purchases (counts by reseller, month and status) and
    the validating ones, capped per reseller; a few seconds at 10,000,000."""
    staff = conn.execute(
        "SELECT id FROM accounts_user WHERE is_staff AND is_active ORDER BY is_superuser DESC, id LIMIT 1"
    ).fetchone()
    resellers = {
        reseller_id: Reseller(reseller_id, user_id)
        for reseller_id, user_id in conn.execute(
            "SELECT r.id, r.user_id FROM resellers_reseller r JOIN accounts_user u ON u.id = r.user_id "
            "WHERE u.is_active"
        )
    }
    for reseller_id, month, status, count in conn.execute(
        "SELECT reseller_id, to_char(date, 'YYYY-MM'), status, count(*) FROM purchases_purchase "
        "GROUP BY 1, 2, 3"
    ):
        if reseller_id in resellers:
            resellers[reseller_id].months.setdefault(month, {})[status] = count
    validating: dict[int, list[int]] = defaultdict(list)
    for reseller_id, purchase_id in conn.execute(
        # Without items: a purchase with items has the value of their sum,
        # and a PATCH of its value alone is refused (400).
        "SELECT reseller_id, id FROM (SELECT reseller_id, id, row_number() OVER "
        "(PARTITION BY reseller_id ORDER BY id DESC) AS n FROM purchases_purchase p "
        "WHERE status = 'validating' AND NOT EXISTS "
        "(SELECT 1 FROM purchases_purchaseitem i WHERE i.purchase_id = p.id)) AS recent "
        "WHERE n <= %s ORDER BY reseller_id, id",
        (VALIDATING_PER_RESELLER,),
    ):
        validating[reseller_id].append(purchase_id)
    ranked = sorted(
        (reseller for reseller in resellers.values() if reseller.total),
        key=lambda reseller: (-reseller.total, reseller.reseller_id),
    )
    months = sorted({month for reseller in ranked for month in reseller.months})
    return Dataset(
        today=today,
        staff_user_id=staff[0] if staff else 0,
        resellers=ranked,
        months=months,
        categories=[row[0] for row in conn.execute("SELECT id FROM products_category ORDER BY id")],
        products=[
            row[0] for row in conn.execute("SELECT id FROM products_product WHERE is_active ORDER BY id")
        ],
        validating=dict(validating),
    )


def size_label(purchases: int) -> str:
    """1000000 -> "1m", 10000000 -> "10m", 20000 -> "20k"."""
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if purchases >= unit and purchases % (unit // 10) == 0:
            return f"{purchases / unit:g}{suffix}"
    return str(purchases)


# --- Drawing ------------------------------------------------------------------


class Chooser:
    """Weighted choice with precomputed cumulative weights."""

    def __init__(self, weights: dict):
        self.items = list(weights)
        self.cumulative = []
        total = 0.0
        for item in self.items:
            total += weights[item]
            self.cumulative.append(total)
        self.total = total

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def zipf_chooser(count: int) -> Chooser:
    return Chooser({rank: 1 / (rank + 1) ** ZIPF_S for rank in range(count)})


def month_days(month: str, dataset: Dataset) -> tuple[date, date]:
    """First and last day of a month that can hold purchases (today for the current one)."""
    year, number = map(int, month.split("-"))
    first = date(year, number, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, min(last, dataset.today)


def estimated_count(
    months: dict[str, dict[str, int]], dataset: Dataset, *, month=None, status=None, dates=None
):
    """Rows a filter leaves, from the counts by month and status; a date range
    is prorated by the days it covers of each month (the seed spreads
    purchases evenly over the days)."""
    total = 0.0
    for name, statuses in months.items():
        if month and name != month:
            continue
        rows = statuses.get(status, 0) if status else sum(statuses.values())
        if dates:
            first, last = month_days(name, dataset)
            overlap = (min(last, dates[1]) - max(first, dates[0])).days + 1
            rows *= max(0, overlap) / ((last - first).days + 1)
        total += rows
    return total


def random_page(rng: random.Random, rows: float) -> int:
    pages = math.floor(rows * PAGE_ROWS_SHARE / PAGE_SIZE)
    return rng.randint(1, max(1, min(MAX_PAGE, pages)))


def random_dates(rng: random.Random, dataset: Dataset) -> tuple[date, date]:
    first_day = month_days(dataset.months[0], dataset)[0]
    span = (dataset.today - first_day).days
    start = first_day + timedelta(days=rng.randint(0, span))
    end = min(dataset.today, start + timedelta(days=rng.randint(0, 59)))
    return start, end


def query(params: list[tuple[str, object]]) -> str:
    return "&".join(f"{name}={value}" for name, value in params)


class Generator:
    """Draws the requests of one thread of one phase."""

    def __init__(self, dataset: Dataset, *, seed: int, phase: str, thread: int, code_tag: str, pools):
        self.data = dataset
        self.rng = random.Random(f"{seed}:{phase}:{thread}")
        self.zipf = zipf_chooser(len(dataset.resellers))
        self.thread = thread
        self.code_tag = code_tag
        self.pools = pools  # shared by every thread and phase: no purchase is changed twice
        self.line = 0

    def reseller(self) -> tuple[int, Reseller]:
        rank = self.zipf(self.rng)
        return rank + 1 + STAFF_TOKEN, self.data.resellers[rank]

    def purchase_list(self, months: dict, kinds: Chooser) -> tuple[str, str]:
        """(label, path): the label is "<filters>|<ordering>|<page range>"."""
        rng, data = self.rng, self.data
        kind = kinds(rng)
        params: list[tuple[str, object]] = []
        month = status = dates = None
        rows_months = months
        if "month" in kind:
            month = rng.choice(sorted(months) or data.months)
            params.append(("month", month))
        if "status" in kind:
            status = rng.choice(STATUSES)
            params.append(("status", status))
        if kind == "dates":
            dates = random_dates(rng, data)
            params += [("date_from", dates[0].isoformat()), ("date_to", dates[1].isoformat())]
        if kind == "reseller":
            _, reseller = self.reseller()
            params.append(("reseller", reseller.reseller_id))
            rows_months = reseller.months
        rows = estimated_count(rows_months, data, month=month, status=status, dates=dates)
        if kind == "search":
            # A code (one row per reseller that has it) or a fragment of ten codes.
            number = rng.randint(1, 200)
            term = f"NF-{number:06d}" if rng.random() < 0.5 else f"NF-{number // 10:05d}"
            params.append(("search", term))
            rows = 0  # the first page only
        page = random_page(rng, rows)
        params.append(("page_size", PAGE_SIZE))
        if page > 1:
            params.append(("page", page))
        ordering = "default"
        if rng.random() >= DEFAULT_ORDERING_SHARE:
            ordering = rng.choice(ORDERINGS)
            params.append(("ordering", ordering))
        pages = "page 1" if page == 1 else "pages 2-10" if page <= 10 else "pages 11-100"
        return f"{kind}|{ordering}|{pages}", f"/api/v1/purchases/?{query(params)}"

    def month(self) -> str:
        return self.rng.choice(self.data.months)

    def next(self, group: str) -> tuple[str, str, int, str, str]:
        """(route, method, token number, path, body) of the next request."""
        self.line += 1
        rng, data = self.rng, self.data
        if group == RESELLER_LIST:
            token, reseller = self.reseller()
            kind, path = self.purchase_list(reseller.months, RESELLER_KINDS)
            return f"{group}|{kind}", "GET", token, path, ""
        if group == STAFF_LIST:
            kind, path = self.purchase_list(data.staff_months, STAFF_KINDS)
            return f"{group}|{kind}", "GET", STAFF_TOKEN, path, ""
        if group == RESELLER_SUMMARY:
            token, _ = self.reseller()
            if rng.random() < 0.5:
                return f"{group}|current month", "GET", token, "/api/v1/resellers/me/summary/", ""
            return f"{group}|month", "GET", token, f"/api/v1/resellers/me/summary/?month={self.month()}", ""
        if group == PRODUCT_LIST:
            token, _ = self.reseller()
            if data.categories and rng.random() < 0.3:
                category = rng.choice(data.categories)
                return f"{group}|category", "GET", token, f"/api/v1/products/?category={category}", ""
            page = rng.randint(1, max(1, math.ceil(len(data.products) / 20)))
            path = "/api/v1/products/" + (f"?page={page}" if page > 1 else "")
            return f"{group}|page", "GET", token, path, ""
        if group == ANALYTICS_SUMMARY:
            return group, "GET", STAFF_TOKEN, f"/api/v1/analytics/summary/?month={self.month()}", ""
        if group == ANALYTICS_MONTHLY:
            first, last = (
                sorted(rng.sample(data.months, 2)) if len(data.months) > 1 else (data.months[0],) * 2
            )
            return group, "GET", STAFF_TOKEN, f"/api/v1/analytics/monthly/?from={first}&to={last}", ""
        if group in (ANALYTICS_TOP_RESELLERS, ANALYTICS_TOP_PRODUCTS):
            name = group.split()[-1]
            return group, "GET", STAFF_TOKEN, f"/api/v1/analytics/{name}/?month={self.month()}", ""
        if group in (UPDATE, DELETE):
            owned = self.own_validating()
            if owned is None:
                return self.create(self.reseller()[0])
            token, purchase = owned
            if group == DELETE:
                return group, "DELETE", token, f"/api/v1/purchases/{purchase}/", ""
            body = json.dumps({"value": self.value()})
            return group, "PATCH", token, f"/api/v1/purchases/{purchase}/", body
        if group == APPROVE:
            purchase = self.any_validating()
            if purchase is not None:
                return group, "POST", STAFF_TOKEN, f"/api/v1/purchases/{purchase}/approve/", ""
            return self.create(self.reseller()[0])
        if group == CREATE:
            return self.create(self.reseller()[0])
        raise ValueError(group)

    def value(self) -> str:
        return f"{self.rng.randint(10_00, 1_500_00) / 100:.2f}"

    def own_validating(self) -> tuple[int, int] | None:
        """(token, purchase id) of a validating purchase of the reseller drawn;
        once the busiest have none left, of a reseller drawn at random, so
        that a PATCH or DELETE line stays one however many the run draws."""
        token, reseller = self.reseller()
        pool = self.pools.get(reseller.reseller_id)
        for _ in range(20):
            if pool:
                return token, pool.pop()
            rank = self.rng.randrange(len(self.data.resellers))
            token, pool = rank + 1 + STAFF_TOKEN, self.pools.get(self.data.resellers[rank].reseller_id)
        return None

    def any_validating(self) -> int | None:
        # Staff review any reseller's purchases: a random non-empty pool.
        for _ in range(20):
            pool = self.pools.get(self.rng.choice(self.data.resellers).reseller_id)
            if pool:
                return pool.pop()
        return None

    def create(self, token: int) -> tuple[str, str, int, str, str]:
        rng, data = self.rng, self.data
        first = data.today.replace(day=1)
        day = first + timedelta(days=rng.randint(0, (data.today - first).days))
        body = {"code": f"{CODE_PREFIX}{self.code_tag}-{self.thread}-{self.line}", "date": day.isoformat()}
        if data.products and rng.random() < 0.2:
            chosen = rng.sample(data.products, min(len(data.products), rng.randint(1, 3)))
            body["items"] = [{"product": product, "quantity": rng.randint(1, 4)} for product in chosen]
        else:
            body["value"] = self.value()
        return CREATE, "POST", token, "/api/v1/purchases/", json.dumps(body, separators=(",", ":"))


RESELLER_KINDS = Chooser(RESELLER_FILTERS)
STAFF_KINDS = Chooser(STAFF_FILTERS)


def validating_pools(dataset: Dataset, seed: int) -> dict[int, list[int]]:
    rng = random.Random(f"{seed}:pools")
    pools = {}
    for reseller_id, ids in dataset.validating.items():
        ids = list(ids)
        rng.shuffle(ids)
        pools[reseller_id] = ids
    return pools


def write_phase(
    directory: Path,
    name: str,
    dataset: Dataset,
    mix: dict[str, float],
    *,
    seed: int,
    threads: int,
    lines: int,
    code_tag: str,
    pools,
) -> Path:
    """``lines`` requests for each thread, drawn from ``mix``, into
    ``<directory>/<name>-<thread>.tsv``; returns the prefix for loadtest.lua."""
    chooser = Chooser(mix)
    prefix = directory / name
    for thread in range(threads):
        generator = Generator(dataset, seed=seed, phase=name, thread=thread, code_tag=code_tag, pools=pools)
        with open(f"{prefix}-{thread}.tsv", "w") as out:
            for _ in range(lines):
                out.write("\t".join(map(str, generator.next(chooser(generator.rng)))) + "\n")
    return prefix


def write_fixed(directory: Path, name: str, per_thread: list[list[tuple]]) -> Path:
    """Request files of given lines: one list of (route, method, token,
    path, body) per thread. A thread sends its lines in order, again and
    again: the same-URL runs hold one line each."""
    prefix = directory / name
    for thread, lines in enumerate(per_thread):
        with open(f"{prefix}-{thread}.tsv", "w") as out:
            for line in lines:
                out.write("\t".join(map(str, line)) + "\n")
    return prefix


def describe() -> dict:
    """The workload's parameters, for the JSON results."""
    return {
        "mix_percent": MIX,
        "reseller_list_filters": RESELLER_FILTERS,
        "staff_list_filters": STAFF_FILTERS,
        "orderings": ORDERINGS,
        "default_ordering_share": DEFAULT_ORDERING_SHARE,
        "page_size": PAGE_SIZE,
        "pages": f"uniform from 1 to min({MAX_PAGE}, {PAGE_ROWS_SHARE:.0%} of the rows / page size)",
        "zipf_exponent": ZIPF_S,
    }
