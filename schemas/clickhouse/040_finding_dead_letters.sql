-- Findings the store refused (a permanent error on their row, isolated by bisecting the
-- batch, or a value the findings table cannot hold): kept here with the reason and the
-- whole finding as JSON, so that nothing is lost and the stream goes on. One row per
-- finding_id; the latest failure wins. Re-drive after a fix by reading `finding`.

CREATE TABLE IF NOT EXISTS claimguard.finding_dead_letters
(
    finding_id    String,
    settlement_id String,
    rule_id       String,
    reason        String,
    finding       String,
    failed_at     DateTime64(3, 'Asia/Shanghai')
)
ENGINE = ReplacingMergeTree(failed_at)
ORDER BY finding_id;
