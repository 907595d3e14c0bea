-- The event archive (issue 11): every valid input event the worker accepted, as received
-- (raw JSON, ZSTD-compressed), with the columns a backtest selects by. Exactly once:
-- the writer skips event_ids already stored (see archive/events.py) and ReplacingMergeTree
-- folds any copy that slips through a race (read with FINAL). An event's occurred_at never
-- changes, so all copies share one partition and one key.
--
-- Ordered by event time: a backtest reads a window in event order straight off the key;
-- `seq` breaks ties in arrival order (replay: the file line; worker: the partition offset).
-- Retention: the TTL below is the default (3 years); a deployment sets its own with
-- CLAIMGUARD_EVENT_RETENTION_DAYS, which the store applies on opening (MODIFY TTL).

CREATE TABLE IF NOT EXISTS claimguard.events
(
    event_id           String,
    event_type         LowCardinality(String),
    occurred_at        DateTime64(3, 'Asia/Shanghai'),
    settlement_id      String,
    institution_code   String,
    institution_region LowCardinality(String),
    person_id          String,
    insured_region     LowCardinality(String),
    seq                UInt64,
    raw                String CODEC(ZSTD(3)),
    archived_at        DateTime64(3, 'Asia/Shanghai')
)
ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 1096 DAY;
