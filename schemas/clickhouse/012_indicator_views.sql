-- Per institution and month: amounts per line class and the ZB ratios (reversed
-- settlements excluded), then each indicator against its threshold and its peers (same
-- city, level and kind, the same month).

CREATE VIEW IF NOT EXISTS claimguard.institution_month_amounts AS
SELECT
    institution_code,
    month,
    any(city)                                        AS city,
    any(institution_level)                           AS institution_level,
    any(institution_kind)                            AS institution_kind,
    uniqExact(settlement_id)                         AS settlements,
    sum(amount)                                      AS total,
    sumIf(amount, line_class = 'drug')               AS drug,
    sumIf(amount, line_class IN ('exam', 'ct', 'mri')) AS exam,
    sumIf(amount, line_class = 'consumable')         AS consumable,
    sumIf(amount, line_class = 'treatment')          AS treatment,
    sumIf(amount, line_class = 'ct')                 AS ct,
    sumIf(amount, line_class = 'mri')                AS mri
FROM claimguard.settled_lines FINAL
WHERE settlement_id NOT IN (SELECT settlement_id FROM claimguard.reversals)
GROUP BY institution_code, month;

-- 非计划再入院 (ZB10000205008000): inpatient stays, and those admitted 0..31 days after an
-- earlier discharge of the same person at the same institution.
CREATE VIEW IF NOT EXISTS claimguard.institution_month_readmissions AS
WITH stays AS
(
    SELECT settlement_id, any(institution_code) AS institution_code, any(person_id) AS person_id,
           any(month) AS month, any(admitted_at) AS admitted_at, any(discharged_at) AS discharged_at
    FROM claimguard.settled_lines FINAL
    WHERE visit_type = 'inpatient'
      AND settlement_id NOT IN (SELECT settlement_id FROM claimguard.reversals)
    GROUP BY settlement_id
)
SELECT
    s.institution_code AS institution_code,
    s.month AS month,
    uniqExact(s.settlement_id) AS stays,
    uniqExactIf(s.settlement_id,
        p.settlement_id != '' AND dateDiff('day', p.discharged_at, s.admitted_at) BETWEEN 0 AND 31)
        AS readmissions
FROM stays AS s
LEFT JOIN stays AS p
    ON p.person_id = s.person_id AND p.institution_code = s.institution_code
   AND p.settlement_id != s.settlement_id AND p.discharged_at <= s.admitted_at
GROUP BY institution_code, month;

CREATE VIEW IF NOT EXISTS claimguard.institution_month_indicators AS
SELECT
    a.institution_code AS institution_code,
    a.month AS month,
    a.city AS city,
    a.institution_level AS institution_level,
    a.institution_kind AS institution_kind,
    a.settlements AS settlements,
    a.total AS total,
    pair.1 AS indicator,
    pair.2 AS nhsa_code,
    pair.3 AS value
FROM claimguard.institution_month_amounts AS a
LEFT JOIN claimguard.institution_month_readmissions AS r
    ON r.institution_code = a.institution_code AND r.month = a.month
ARRAY JOIN [
    ('drug_ratio', 'ZB10000205001000', if(a.total > 0, toFloat64(a.drug / a.total), 0.)),
    ('exam_ratio', 'ZB10000205002000', if(a.total > 0, toFloat64(a.exam / a.total), 0.)),
    ('consumable_ratio', 'ZB10000205003000', if(a.total > 0, toFloat64(a.consumable / a.total), 0.)),
    ('treatment_ratio', 'ZB10000205004000', if(a.total > 0, toFloat64(a.treatment / a.total), 0.)),
    ('ct_ratio', 'ZB10000205005000', if(a.total > 0, toFloat64(a.ct / a.total), 0.)),
    ('mri_ratio', 'ZB10000205006000', if(a.total > 0, toFloat64(a.mri / a.total), 0.)),
    ('readmission_31d', 'ZB10000205008000', if(r.stays > 0, r.readmissions / r.stays, 0.))
] AS pair;

-- Findings for analysts: an institution-month whose indicator is over its threshold, or
-- over peer_factor × the average of its peers (when it has at least min_peers of them).
-- A threshold row for the institution's own level wins over the kind's level-0 row.
CREATE VIEW IF NOT EXISTS claimguard.indicator_findings AS
WITH
    peers AS
    (
        SELECT month, city, institution_level, institution_kind, indicator,
               count() AS peer_count, avg(value) AS peer_avg
        FROM claimguard.institution_month_indicators
        GROUP BY month, city, institution_level, institution_kind, indicator
    ),
    thresholds AS
    (
        SELECT indicator, institution_kind, institution_level, max_value, peer_factor, min_peers
        FROM claimguard.indicator_thresholds FINAL
    )
SELECT
    i.institution_code AS institution_code,
    i.month AS month,
    i.city AS city,
    i.institution_level AS institution_level,
    i.institution_kind AS institution_kind,
    i.indicator AS indicator,
    i.nhsa_code AS nhsa_code,
    i.value AS value,
    if(tl.indicator != '', tl.max_value, t0.max_value) AS threshold,
    if(tl.indicator != '', tl.peer_factor, t0.peer_factor) AS factor,
    if(tl.indicator != '', tl.min_peers, t0.min_peers) AS needed_peers,
    p.peer_count - 1 AS peers,
    if(p.peer_count > 1, (p.peer_avg * p.peer_count - i.value) / (p.peer_count - 1), 0.)
        AS peer_avg,
    i.value > threshold AS over_threshold,
    peers >= needed_peers AND i.value > factor * peer_avg AS over_peers,
    i.total AS total,
    i.settlements AS settlements
FROM claimguard.institution_month_indicators AS i
LEFT JOIN thresholds AS t0
    ON t0.indicator = i.indicator AND t0.institution_kind = i.institution_kind
   AND t0.institution_level = 0
LEFT JOIN thresholds AS tl
    ON tl.indicator = i.indicator AND tl.institution_kind = i.institution_kind
   AND tl.institution_level = i.institution_level AND tl.institution_level != 0
INNER JOIN peers AS p
    ON p.month = i.month AND p.city = i.city AND p.institution_level = i.institution_level
   AND p.institution_kind = i.institution_kind AND p.indicator = i.indicator
WHERE (t0.indicator != '' OR tl.indicator != '') AND (over_threshold OR over_peers);
