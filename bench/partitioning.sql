-- A partitioned copy of purchases_purchase, by month of `date`, beside the
-- real table, to read the plans docs/scaling.md quotes. Run on a scratch copy
-- of a seeded database (never on a real one):
--
--   createdb -T cashback_loadtest_seed cashback_partitions
--   psql -d cashback_partitions -f bench/partitioning.sql > /tmp/partitioning.txt
--
-- PostgreSQL requires a partitioned table's unique constraints to include the
-- partition key, so UNIQUE (reseller_id, code) cannot be declared on it: a
-- code would be unique per reseller *and month*. The copy keeps the rule with
-- a small claims table, one row per (reseller, code), written in the same
-- transaction as the purchase (its primary key decides between concurrent
-- inserts exactly as the constraint does today).

\timing on
SET max_parallel_workers_per_gather = 2;

DROP TABLE IF EXISTS part_purchase CASCADE;
DROP TABLE IF EXISTS part_purchase_code CASCADE;

CREATE TABLE part_purchase (LIKE purchases_purchase INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (date);

-- One partition per month the data spans, and a default one for the rest.
DO $$
DECLARE
    first_month date := (SELECT date_trunc('month', min(date))::date FROM purchases_purchase);
    last_month date := (SELECT date_trunc('month', max(date))::date FROM purchases_purchase);
    month date := first_month;
BEGIN
    WHILE month <= last_month LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF part_purchase FOR VALUES FROM (%L) TO (%L)',
            'part_purchase_' || to_char(month, 'YYYY_MM'), month, (month + interval '1 month')::date
        );
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;
CREATE TABLE part_purchase_default PARTITION OF part_purchase DEFAULT;

INSERT INTO part_purchase SELECT * FROM purchases_purchase;

-- The primary key must include the partition key too.
ALTER TABLE part_purchase ADD PRIMARY KEY (id, date);
-- The same indexes as the real table (declared on the parent: one per partition).
CREATE INDEX ON part_purchase (reseller_id, date, id);
CREATE INDEX ON part_purchase (reseller_id, value, id);
CREATE INDEX ON part_purchase (reseller_id, created_at, id);
CREATE INDEX ON part_purchase (date, id);
CREATE INDEX ON part_purchase (value, id) INCLUDE (date, status);
CREATE INDEX ON part_purchase (created_at, id) INCLUDE (date, status);
CREATE INDEX ON part_purchase (status, date, id);

-- The per-reseller code rule, kept by a table that is not partitioned.
CREATE TABLE part_purchase_code (
    reseller_id bigint NOT NULL,
    code varchar(64) NOT NULL,
    purchase_id bigint NOT NULL,
    PRIMARY KEY (reseller_id, code)
);
INSERT INTO part_purchase_code SELECT reseller_id, code, id FROM purchases_purchase;
VACUUM (ANALYZE) part_purchase;
VACUUM (ANALYZE) part_purchase_code;

\echo '--- A month of the staff list, default order, page 1 (pruned to one partition)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM part_purchase
WHERE date >= date_trunc('month', now() - interval '2 months')::date
  AND date < date_trunc('month', now() - interval '1 month')::date
ORDER BY date DESC, id DESC LIMIT 50;

\echo '--- The same month, by value, page 100'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM part_purchase
WHERE date >= date_trunc('month', now() - interval '2 months')::date
  AND date < date_trunc('month', now() - interval '1 month')::date
ORDER BY value DESC, id DESC LIMIT 50 OFFSET 4950;

\echo '--- A reseller''s list, no month (every partition: a merge of index scans)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM part_purchase WHERE reseller_id = 42 ORDER BY date DESC, id DESC LIMIT 50;

\echo '--- The unpartitioned table, same query, for comparison'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM purchases_purchase WHERE reseller_id = 42 ORDER BY date DESC, id DESC LIMIT 50;

\echo '--- Looking up a purchase by id alone (no date: every partition''s primary key)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM part_purchase WHERE id = 123456;

\echo '--- The code rule: a new purchase claims its code first (conflict = 409 today)'
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF)
INSERT INTO part_purchase_code (reseller_id, code, purchase_id)
VALUES (42, 'NF-NEW-0001', -1) ON CONFLICT DO NOTHING;
ROLLBACK;

\echo '--- Dropping a whole old month is a metadata change'
BEGIN;
ALTER TABLE part_purchase DETACH PARTITION part_purchase_default;
ROLLBACK;

SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'part_purchase'::regclass;
