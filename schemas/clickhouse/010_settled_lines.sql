-- ZB indicators (统计指标监测, ZB10000205001..008): the settled line totals they need.
--
-- One row per settled settlement and line class, written by the worker's batch writer with
-- the findings of the same batch (both flush paths). ReplacingMergeTree on
-- (settlement_id, line_class): a redelivered or re-processed settlement folds into one row;
-- read with FINAL. Reversed settlements are excluded by the views through
-- claimguard.reversals, like reversed findings.
--
-- line_class: drug, consumable, exam (检验检查: 影像/超声/核医学/检验/病理 service codes), ct,
-- mri (both also count as exam), treatment (every other service). `city` is the 地市 of the
-- institution's region (first 4 digits + '00'): peers are institutions of the same city,
-- level and kind.

CREATE TABLE IF NOT EXISTS claimguard.settled_lines
(
    settlement_id      String,
    line_class         LowCardinality(String),
    event_id           String,
    occurred_at        DateTime64(3, 'Asia/Shanghai'),
    month              Date,
    institution_code   String,
    institution_region LowCardinality(String),
    city               LowCardinality(String),
    institution_level  UInt8,
    institution_kind   LowCardinality(String),
    person_id          String,
    visit_type         LowCardinality(String),
    admitted_at        Nullable(DateTime64(3, 'Asia/Shanghai')),
    discharged_at      Nullable(DateTime64(3, 'Asia/Shanghai')),
    lines              UInt32,
    amount             Decimal(18, 4),
    version            UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(month)
ORDER BY (settlement_id, line_class);

-- Thresholds per indicator, institution kind and level (0 = any level), and the factor over
-- the peers' average that is flagged. Local policy (统筹区) sets them: insert rows; the
-- latest version per key wins.
CREATE TABLE IF NOT EXISTS claimguard.indicator_thresholds
(
    indicator         LowCardinality(String),
    institution_kind  LowCardinality(String),
    institution_level UInt8,
    max_value         Float64,
    peer_factor       Float64,
    min_peers         UInt32,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (indicator, institution_kind, institution_level);
