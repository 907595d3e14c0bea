-- Dispositions (contract §9, 3103 事前事中服务反馈): the clinician's answer to an alert or a
-- hold, one row per finding; the latest received wins (ReplacingMergeTree on received_at).
-- `finding_id` is the `jr_id` a 3101/3102 answer carried (`warn_rslt_id` in 3103).
-- dspo_way: 1 continued (the order or settlement went ahead, `reason` required), 2 changed.

CREATE TABLE IF NOT EXISTS claimguard.dispositions
(
    finding_id     String,
    warn_type      UInt8,
    dspo_way       UInt8,
    reason         String,
    msgid          String,
    fixmedins_code String,
    received_at    DateTime64(3, 'Asia/Shanghai')
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY finding_id;
