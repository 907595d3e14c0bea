-- 疑点交办 cases (issue 10): every `flag` finding is a case assigned to its assigned_region.
-- Each change of a case is one appended row here (who, when, from, to, reason, amount); the
-- current state is derived (033_cases_current.sql), never updated in place, so the history
-- is the record. `region` is where the case is assigned after the change (escalated: the
-- parent, transferred: the target), `from_region` where it was before.
-- `at` has microseconds: the latest change wins in argMax even within one millisecond.

CREATE TABLE IF NOT EXISTS claimguard.case_events
(
    case_id     String,
    finding_id  String,
    who         String,
    at          DateTime64(6, 'Asia/Shanghai'),
    from_status LowCardinality(String),
    to_status   LowCardinality(String),
    reason      String,
    amount      Decimal(18, 4),
    region      LowCardinality(String),
    from_region LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (finding_id, at);

-- Days a case may stay open, per level of the region it is assigned to; a level without a
-- row gets 30 (`claimguard cases due LEVEL DAYS` sets one). The latest setting wins.
CREATE TABLE IF NOT EXISTS claimguard.case_due_days
(
    level  LowCardinality(String),
    days   UInt16,
    set_at DateTime64(3, 'Asia/Shanghai')
)
ENGINE = ReplacingMergeTree(set_at)
ORDER BY level;
