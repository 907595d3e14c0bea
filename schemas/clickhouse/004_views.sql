-- Read paths that hide the dedup mechanics: each finding once, in its latest state.
-- A view's `*` is expanded when it is created: a migration that adds a column to
-- claimguard.findings must also recreate findings_current (CREATE OR REPLACE VIEW).

CREATE VIEW IF NOT EXISTS claimguard.findings_current AS
SELECT *
FROM claimguard.findings FINAL;

-- Upward aggregation (contract §5): every jurisdiction sees its whole subtree. A finding
-- assigned to county 320602 counts for 320602, 320600, 320000 and 000000; reversed
-- findings count nowhere. `day` is the occurred_at date in Asia/Shanghai.
CREATE VIEW IF NOT EXISTS claimguard.jurisdiction_totals AS
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
    WHERE reversed = 0
) AS f
INNER JOIN claimguard.region_ancestors AS a ON a.region = f.assigned_region
GROUP BY region, level, day, violation, action;
