-- Contract §9: wherever findings are read, a finding shows its disposition. One row per
-- finding (latest state) with the latest disposition received for it; `disposition_way`
-- is 0 while none has arrived (1 continued, 2 changed).

CREATE VIEW IF NOT EXISTS claimguard.findings_with_disposition AS
SELECT
    f.*,
    d.dspo_way       AS disposition_way,
    d.reason         AS disposition_reason,
    d.warn_type      AS disposition_warn_type,
    d.msgid          AS disposition_msgid,
    d.fixmedins_code AS disposition_fixmedins_code,
    d.received_at    AS disposition_received_at
FROM claimguard.findings AS f FINAL
LEFT JOIN
(
    SELECT * FROM claimguard.dispositions FINAL
) AS d ON d.finding_id = f.finding_id;
