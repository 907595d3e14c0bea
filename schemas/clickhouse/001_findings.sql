-- The suspicion store (contract §7): one row per distinct finding of contract §4.
--
-- Dedup: ReplacingMergeTree keeps, per sorting key, the row with the highest `version`.
-- finding_id is deterministic (event, rule, flagged settlement), so a redelivered finding
-- lands on the same key and never counts twice; read through FINAL (or the views below).
-- settlement_id leads the key: a finding_id always belongs to one settlement, so the key is
-- as unique as finding_id alone, and reversals and per-settlement lookups use the index.
--
-- version = (reversed << 48) | epoch milliseconds of the write: a reversed row outranks any
-- unreversed copy of the same finding whatever the clocks say, so a late redelivery cannot
-- undo a reversal (reversal is one-way in contract §3).
--
-- Months partition for retention; a finding's occurred_at never changes, so every copy of
-- a finding falls into the same partition and FINAL dedups it.
--
-- Statements in migration files must be idempotent (IF NOT EXISTS): ClickHouse DDL is not
-- transactional, so a half-applied file is simply run again.

CREATE DATABASE IF NOT EXISTS claimguard;

CREATE TABLE IF NOT EXISTS claimguard.findings
(
    finding_id         String,
    event_id           String,
    settlement_id      String,
    event_type         LowCardinality(String),
    occurred_at        DateTime64(3, 'Asia/Shanghai'),
    rule_id            LowCardinality(String),
    rule_version       UInt32,
    violation          LowCardinality(String),
    layer              LowCardinality(String),
    stage              LowCardinality(String),
    action             LowCardinality(String),
    severity           LowCardinality(String),
    item_ids           Array(String),
    amount             Decimal(18, 4),
    subject            LowCardinality(String),
    institution_code   String,
    institution_region LowCardinality(String),
    person_id          String,
    insured_region     LowCardinality(String),
    assigned_region    LowCardinality(String),
    assigned_level     LowCardinality(String),
    notify_regions     Array(LowCardinality(String)),
    message            String,
    message_en         String,
    reversed           UInt8,
    ingested_at        DateTime64(3, 'Asia/Shanghai'),
    version            UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (settlement_id, finding_id);
