-- Settlements reversed by a `reversal` event, and when the store learned of it.
-- Writes consult it, so a flag that reaches the store after its settlement's reversal
-- (another batch, another worker) is stored as reversed. Only flags are reversed
-- (contract §3); alerts and holds answered the request at the time and stay.

CREATE TABLE IF NOT EXISTS claimguard.reversals
(
    settlement_id String,
    reversed_at   DateTime64(3, 'Asia/Shanghai')
)
ENGINE = ReplacingMergeTree
ORDER BY settlement_id;
