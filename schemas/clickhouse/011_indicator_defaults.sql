-- Default thresholds (version 1: any row a province inserts later with a higher version
-- replaces them). Ratios are shares of the institution's settled amount in the month;
-- readmission_31d is the share of inpatient stays admitted within 31 days of a discharge
-- of the same person at the same institution.
INSERT INTO claimguard.indicator_thresholds
SELECT indicator, kind, 0, max_value, 1.5, 3, 1
FROM
(
    SELECT
        arrayJoin([
            ('drug_ratio', 0.45), ('exam_ratio', 0.30), ('consumable_ratio', 0.35),
            ('treatment_ratio', 0.50), ('ct_ratio', 0.10), ('mri_ratio', 0.10),
            ('readmission_31d', 0.15)
        ]) AS pair,
        pair.1 AS indicator,
        pair.2 AS max_value
)
ARRAY JOIN ['hospital', 'clinic'] AS kind
WHERE (indicator, kind, 0) NOT IN (SELECT indicator, institution_kind, institution_level FROM claimguard.indicator_thresholds);
