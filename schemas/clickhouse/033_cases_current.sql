-- Each case in its current state, derived from the flag finding and its case_events.
--   status: the last change's to_status; `assigned` before any change; `void` when the
--   settlement was reversed while the case was still open (a verdict, confirmed or
--   dismissed, stands even if the settlement is reversed later).
--   assigned_region: the last change's region (escalated/transferred), else the routing's.
--   due_at: opened_at (when the store received the finding) + the days of the current
--   level; overdue: still open after due_at.
-- Which findings are cases: one view, so that one later statement changes it everywhere
-- (cases_current, case_report, rule_verdicts read through it). Shadow-mode findings
-- (`shadow = 1`, 030) never open cases.
CREATE VIEW IF NOT EXISTS claimguard.case_findings AS
SELECT *
FROM claimguard.findings FINAL
WHERE action = 'flag' AND shadow = 0;

CREATE VIEW IF NOT EXISTS claimguard.cases_current AS
SELECT
    c.*,
    addDays(c.opened_at, if(d.days = 0, 30, d.days)) AS due_at,
    c.status IN ('assigned', 'verifying', 'escalated', 'transferred')
        AND now64(3) > addDays(c.opened_at, if(d.days = 0, 30, d.days)) AS overdue
FROM
(
    SELECT
        concat('C-', substring(f.finding_id, 1, 16)) AS case_id,
        f.finding_id AS finding_id,
        f.settlement_id AS settlement_id,
        f.event_id AS event_id,
        f.occurred_at AS occurred_at,
        f.rule_id AS rule_id,
        f.rule_version AS rule_version,
        f.violation AS violation,
        f.layer AS layer,
        f.severity AS severity,
        f.item_ids AS item_ids,
        f.amount AS amount,
        f.subject AS subject,
        f.institution_code AS institution_code,
        f.institution_region AS institution_region,
        f.person_id AS person_id,
        f.insured_region AS insured_region,
        f.assigned_region AS routed_region,
        f.notify_regions AS notify_regions,
        f.message AS message,
        f.message_en AS message_en,
        f.reversed AS reversed,
        f.ingested_at AS opened_at,
        if(e.changes = 0, f.assigned_region, e.last_region) AS assigned_region,
        multiIf(
            e.changes > 0 AND e.last_status IN ('confirmed', 'dismissed'), e.last_status,
            f.reversed = 1, 'void',
            e.changes = 0, 'assigned',
            e.last_status
        ) AS status,
        e.changes AS changes,
        if(e.changes = 0, f.ingested_at, e.changed_at) AS changed_at,
        e.recovered AS recovered,
        e.last_reason AS reason,
        multiIf(
            assigned_region = '000000', 'national',
            substring(assigned_region, 3, 4) = '0000', 'province',
            substring(assigned_region, 5, 2) = '00', 'city',
            'county'
        ) AS level
    FROM claimguard.case_findings AS f
    LEFT JOIN
    (
        SELECT
            finding_id,
            count() AS changes,
            argMax(to_status, at) AS last_status,
            argMax(region, at) AS last_region,
            argMax(reason, at) AS last_reason,
            max(at) AS changed_at,
            argMaxIf(amount, at, to_status = 'confirmed') AS recovered
        FROM claimguard.case_events
        GROUP BY finding_id
    ) AS e ON e.finding_id = f.finding_id
) AS c
LEFT JOIN
(
    SELECT level, days FROM claimguard.case_due_days FINAL
) AS d ON d.level = c.level;
