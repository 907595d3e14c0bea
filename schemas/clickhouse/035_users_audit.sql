-- Console and CLI users: a home region and a role; the API token is stored only as its
-- sha256 (a random 192-bit token needs no salt or slow hash). Revoking writes a newer row.
CREATE TABLE IF NOT EXISTS claimguard.users
(
    name         String,
    role         LowCardinality(String),
    region       LowCardinality(String),
    token_sha256 String,
    created_at   DateTime64(3, 'Asia/Shanghai'),
    revoked      UInt8,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;

-- Every case change and every view of a case (and of queues, exports, queries): who, as
-- which region, what, which case. Append-only.
CREATE TABLE IF NOT EXISTS claimguard.audit
(
    at      DateTime64(6, 'Asia/Shanghai'),
    who     String,
    role    LowCardinality(String),
    region  LowCardinality(String),
    action  LowCardinality(String),
    case_id String,
    detail  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, who);
