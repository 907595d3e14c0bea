-- Rule lifecycle (issue 11): a finding of a rule in shadow mode is stored with shadow = 1
-- and never decides anything; every finding names the pack file it came from.
-- Every read view excludes shadow findings; the `*_all` views include them (ask for them).
-- Views expand `*` at creation, so each is recreated here to carry the new columns.

ALTER TABLE claimguard.findings ADD COLUMN IF NOT EXISTS shadow UInt8 DEFAULT 0;
ALTER TABLE claimguard.findings ADD COLUMN IF NOT EXISTS pack_digest LowCardinality(String) DEFAULT '';

CREATE OR REPLACE VIEW claimguard.findings_current AS
SELECT *
FROM claimguard.findings FINAL
WHERE shadow = 0;

-- Live and shadow findings, each once in its latest state (a rule author's backtest / shadow review).
CREATE OR REPLACE VIEW claimguard.findings_current_all AS
SELECT *
FROM claimguard.findings FINAL;

CREATE OR REPLACE VIEW claimguard.jurisdiction_totals AS
SELECT
    a.ancestor        AS region,
    a.ancestor_level  AS level,
    f.day             AS day,
    f.violation       AS violation,
    f.action          AS action,
    count()           AS findings,
    sum(f.amount)     AS amount
FROM
(
    SELECT assigned_region, toDate(occurred_at) AS day, violation, action, amount
    FROM claimguard.findings FINAL
    WHERE reversed = 0 AND shadow = 0
) AS f
INNER JOIN claimguard.region_ancestors AS a ON a.region = f.assigned_region
GROUP BY region, level, day, violation, action;

-- The same subtree totals for shadow findings only: what a shadow rule would add.
CREATE OR REPLACE VIEW claimguard.jurisdiction_totals_shadow AS
SELECT
    a.ancestor        AS region,
    a.ancestor_level  AS level,
    f.day             AS day,
    f.rule_id         AS rule_id,
    f.violation       AS violation,
    f.action          AS action,
    count()           AS findings,
    sum(f.amount)     AS amount
FROM
(
    SELECT assigned_region, toDate(occurred_at) AS day, rule_id, violation, action, amount
    FROM claimguard.findings FINAL
    WHERE reversed = 0 AND shadow = 1
) AS f
INNER JOIN claimguard.region_ancestors AS a ON a.region = f.assigned_region
GROUP BY region, level, day, rule_id, violation, action;

CREATE OR REPLACE VIEW claimguard.findings_with_disposition AS
SELECT
    f.*,
    d.dspo_way       AS disposition_way,
    d.reason         AS disposition_reason,
    d.warn_type      AS disposition_warn_type,
    d.msgid          AS disposition_msgid,
    d.fixmedins_code AS disposition_fixmedins_code,
    d.received_at    AS disposition_received_at
FROM
(
    SELECT * FROM claimguard.findings FINAL WHERE shadow = 0
) AS f
LEFT JOIN
(
    SELECT * FROM claimguard.dispositions FINAL
) AS d ON d.finding_id = f.finding_id;

CREATE OR REPLACE VIEW claimguard.findings_with_disposition_all AS
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
