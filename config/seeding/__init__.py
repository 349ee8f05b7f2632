"""Demo data for ``manage.py seed`` (config/management/commands/seed.py).

Every seeded object has a natural key fixed by the seed's own naming, so a run
can tell what is already there and a reset can find everything it made:

- logins: ``admin@example.com`` (staff), ``demo@example.com`` (the reseller
  with CPF 153.509.460-56) and ``revendedor-NNNNN@demo.example.com``;
- categories by slug (the fixed list below), products by SKU (``DEMO-NNNN``);
- purchases belong to the seeded resellers, codes ``NF-NNNNNN`` per reseller.

``generate`` makes the rows in plain Python from string-seeded
``random.Random`` streams (one per concern, one per reseller), so the same
``--seed`` and sizes give the same rows on any database and a reseller's
purchases do not depend on which other resellers already exist. Their
cashback comes from the same pure rule the services store
(``purchases.cashback.month_cashback``), so no service runs per purchase; a
test checks that recalculating through the services changes nothing.
``store`` reads and writes the database: what exists, the bulk writes (COPY
on PostgreSQL), the reset.

Seeding writes every app's tables, so it lives with the infrastructure, the
one place besides the root URLconf that may import every app.
"""
