-- Upward reporting (数据向上汇聚): every jurisdiction's whole subtree of cases per month of
-- the settlement, violation and status — what a city reports to its province.
CREATE VIEW IF NOT EXISTS claimguard.case_report AS
SELECT
    a.ancestor                                   AS region,
    a.ancestor_level                             AS level,
    toStartOfMonth(c.occurred_at)                AS month,
    c.violation                                  AS violation,
    c.status                                     AS status,
    count()                                      AS cases,
    sum(c.amount)                                AS amount,
    sumIf(c.recovered, c.status = 'confirmed')   AS recovered,
    countIf(c.overdue)                           AS overdue
FROM claimguard.cases_current AS c
INNER JOIN claimguard.region_ancestors AS a ON a.region = c.assigned_region
GROUP BY region, level, month, violation, status;

-- Feedback into rules: verdicts per rule over each jurisdiction's subtree (阳性率 =
-- confirmed / (confirmed + dismissed), computed by the reader so that no verdict is 0/0).
CREATE VIEW IF NOT EXISTS claimguard.rule_verdicts AS
SELECT
    a.ancestor                          AS region,
    a.ancestor_level                    AS level,
    c.rule_id                           AS rule_id,
    count()                             AS cases,
    countIf(c.status = 'confirmed')     AS confirmed,
    countIf(c.status = 'dismissed')     AS dismissed,
    sumIf(c.recovered, c.status = 'confirmed') AS recovered
FROM claimguard.cases_current AS c
INNER JOIN claimguard.region_ancestors AS a ON a.region = c.assigned_region
GROUP BY region, level, rule_id;
