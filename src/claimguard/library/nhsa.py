"""The NHSA rule library (规则库框架体系 1.0 and the 2025 additions) as data: every rule's code,
name, the layer and subject claimguard gives it, its default result type (明确违规 / 可疑) and
the violation code claimguard findings carry for it. `rules catalog` reads this beside the
packs to say which are implemented, which need data an event does not carry, and which are
indicators computed in ClickHouse."""

from __future__ import annotations

from typing import Literal, NamedTuple

Result = Literal["明确违规", "可疑"]
CLEAR: Result = "明确违规"
SUSPECT: Result = "可疑"


class NhsaRule(NamedTuple):
    code: str  # GZ/ZB + 14 digits, or T2025-NN for the 2025 types (no public codes)
    name: str
    group: str
    layer: Literal["norms", "policy", "authenticity"]
    subject: Literal["institution", "insured"]
    result: Result
    violation: str  # claimguard's code for findings of this rule type ("" for ZB)
    needs: str = ""  # what data a settlement event lacks for it, when it cannot be decided
    same_as: str = ""  # a 2025 type that is a renamed 1.0 rule


def _gz(serial: str) -> str:
    return f"GZ10000{serial}000"


P, N, A = "policy", "norms", "authenticity"
INST, INSURED = "institution", "insured"

_RULES: list[tuple[str, str, str, str, str, Result, str]] = [
    # 政策类 · 药品政策限定
    ("101001", "药品限工伤保险", "药品政策限定", P, INST, CLEAR, "DRUG_WORK_INJURY_ONLY"),
    ("101002", "药品限生育保险", "药品政策限定", P, INST, CLEAR, "DRUG_MATERNITY_ONLY"),
    ("101003", "中药饮片单复方均不予支付", "药品政策限定", P, INST, CLEAR, "HERB_NOT_PAYABLE"),
    (
        "101004",
        "中药饮片单方使用不予支付",
        "药品政策限定",
        P,
        INST,
        CLEAR,
        "HERB_SINGLE_NOT_PAYABLE",
    ),
    ("101005", "药品限二线使用", "药品政策限定", P, INST, SUSPECT, "DRUG_SECOND_LINE"),
    ("101006", "药品限新生儿使用", "药品政策限定", P, INST, CLEAR, "DRUG_NEWBORN_ONLY"),
    ("101007", "药品限儿童使用", "药品政策限定", P, INST, CLEAR, "DRUG_CHILD_ONLY"),
    ("101008", "药品限适应症", "药品政策限定", P, INST, SUSPECT, "DRUG_INDICATION_LIMIT"),
    ("101009", "药品限最大支付天数/开药量", "药品政策限定", P, INST, SUSPECT, "DRUG_SUPPLY_LIMIT"),
    ("101010", "药品限支付疗程", "药品政策限定", P, INST, SUSPECT, "DRUG_COURSE_LIMIT"),
    (
        "101011",
        "药品超限定病种目录范围使用",
        "药品政策限定",
        P,
        INST,
        SUSPECT,
        "DRUG_DISEASE_SCOPE",
    ),
    ("101012", "药品限医疗机构级别", "药品政策限定", P, INST, SUSPECT, "DRUG_LEVEL_LIMIT"),
    # 政策类 · 医疗服务项目政策限定
    (
        "102001",
        "超限定单价收费",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_PRICE_OVER_LIMIT",
    ),
    (
        "102002",
        "手术项目未按规定折价收费",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "OPERATION_DISCOUNT_MISSED",
    ),
    (
        "102003",
        "医疗服务项目限工伤保险",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_WORK_INJURY_ONLY",
    ),
    (
        "102004",
        "医疗服务项目限生育保险",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_MATERNITY_ONLY",
    ),
    (
        "102005",
        "医疗服务项目限新生儿使用",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_NEWBORN_ONLY",
    ),
    (
        "102006",
        "医疗服务项目限儿童使用",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_CHILD_ONLY",
    ),
    (
        "102007",
        "医疗服务项目限适应症",
        "医疗服务项目政策限定",
        P,
        INST,
        SUSPECT,
        "SERVICE_INDICATION_LIMIT",
    ),
    (
        "102008",
        "医疗服务项目限科室使用",
        "医疗服务项目政策限定",
        P,
        INST,
        SUSPECT,
        "SERVICE_DEPARTMENT_LIMIT",
    ),
    (
        "102009",
        "医疗服务项目限就医方式",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_VISIT_TYPE_LIMIT",
    ),
    (
        "102010",
        "医疗服务项目限支付疗程",
        "医疗服务项目政策限定",
        P,
        INST,
        SUSPECT,
        "SERVICE_COURSE_LIMIT",
    ),
    (
        "102011",
        "医疗服务项目限医疗机构级别",
        "医疗服务项目政策限定",
        P,
        INST,
        SUSPECT,
        "SERVICE_LEVEL_LIMIT",
    ),
    ("102012", "重复收费", "医疗服务项目政策限定", P, INST, CLEAR, "SERVICE_REPEATED_CHARGE"),
    ("102013", "分解收费", "医疗服务项目政策限定", P, INST, CLEAR, "SERVICE_SPLIT_CHARGE"),
    (
        "102014",
        "医疗服务项目限定频次",
        "医疗服务项目政策限定",
        P,
        INST,
        CLEAR,
        "SERVICE_FREQUENCY_LIMIT",
    ),
    (
        "102015",
        "医疗服务项目超限定报销总额",
        "医疗服务项目政策限定",
        P,
        INST,
        SUSPECT,
        "SERVICE_TOTAL_LIMIT",
    ),
    # 政策类 · 医用耗材政策限定
    ("103001", "耗材限新生儿使用", "医用耗材政策限定", P, INST, CLEAR, "CONSUMABLE_NEWBORN_ONLY"),
    ("103002", "耗材限儿童使用", "医用耗材政策限定", P, INST, CLEAR, "CONSUMABLE_CHILD_ONLY"),
    (
        "103003",
        "耗材超限定报销总额",
        "医用耗材政策限定",
        P,
        INST,
        SUSPECT,
        "CONSUMABLE_TOTAL_LIMIT",
    ),
    # 管理类 · 信息数据监管
    ("201001", "结算清单信息异常", "信息数据监管", P, INST, SUSPECT, "SETTLEMENT_LIST_ANOMALY"),
    ("201002", "结算明细信息异常", "信息数据监管", P, INST, SUSPECT, "SETTLEMENT_DETAIL_ANOMALY"),
    ("201003", "疾病诊断编码异常", "信息数据监管", P, INST, SUSPECT, "DIAGNOSIS_WITHOUT_ITEM"),
    ("201004", "手术操作编码异常", "信息数据监管", P, INST, SUSPECT, "OPERATION_CODE_ANOMALY"),
    (
        "201005",
        "手术操作编码与性别不符",
        "信息数据监管",
        P,
        INST,
        CLEAR,
        "OPERATION_GENDER_MISMATCH",
    ),
    (
        "201006",
        "诊断编码与手术操作编码不符",
        "信息数据监管",
        P,
        INST,
        SUSPECT,
        "OPERATION_DIAGNOSIS_MISMATCH",
    ),
    ("201007", "就诊数据非实时上传", "信息数据监管", P, INST, SUSPECT, "LATE_UPLOAD"),
    ("201008", "计费日期与住院时间不符", "信息数据监管", P, INST, CLEAR, "CHARGE_OUTSIDE_STAY"),
    # 管理类 · 药品监管 / 耗材监管
    ("202001", "药品进销存异常", "药品监管", P, INST, SUSPECT, ""),
    (
        "202002",
        "围手术期抗菌药物预防性应用",
        "药品监管",
        N,
        INST,
        SUSPECT,
        "PERIOPERATIVE_ANTIBIOTIC",
    ),
    ("202003", "抗菌药物分级使用管理", "药品监管", N, INST, SUSPECT, "ANTIBIOTIC_GRADE"),
    ("202004", "药品种类超标", "药品监管", N, INST, SUSPECT, "DRUG_VARIETY_OVER"),
    ("203001", "医用耗材进销存异常", "医用耗材监管", P, INST, SUSPECT, ""),
    # 管理类 · 行为主体监管
    ("204001", "分解住院", "行为主体监管", A, INST, SUSPECT, "SPLIT_HOSPITALIZATION"),
    ("204002", "频繁门诊", "行为主体监管", A, INSURED, SUSPECT, "FREQUENT_VISITS"),
    ("204003", "频繁购药", "行为主体监管", A, INSURED, SUSPECT, "FREQUENT_DISPENSING"),
    ("204004", "频繁住院", "行为主体监管", A, INSURED, SUSPECT, "FREQUENT_ADMISSIONS"),
    (
        "204005",
        "无指征住院（低标准入院）",
        "行为主体监管",
        A,
        INST,
        SUSPECT,
        "LOW_STANDARD_ADMISSION",
    ),
    ("204006", "诊断与患者性别不符", "行为主体监管", N, INST, CLEAR, "DIAGNOSIS_GENDER_MISMATCH"),
    ("204007", "诊断与患者年龄不符", "行为主体监管", N, INST, SUSPECT, "DIAGNOSIS_AGE_MISMATCH"),
    # 医疗类 · 药品合理使用
    ("301001", "药品与医疗服务项目不符", "药品合理使用", N, INST, SUSPECT, "DRUG_WITHOUT_SERVICE"),
    ("301002", "药品儿童专用", "药品合理使用", N, INST, CLEAR, "DRUG_CHILD_SPECIFIC"),
    ("301003", "药品儿童禁用", "药品合理使用", N, INST, CLEAR, "DRUG_CHILD_FORBIDDEN"),
    ("301004", "药品区分性别使用", "药品合理使用", N, INST, CLEAR, "DRUG_GENDER_SPECIFIC"),
    ("301005", "超说明书用量", "药品合理使用", N, INST, SUSPECT, "DRUG_OVER_DOSAGE"),
    ("301006", "重复开药", "药品合理使用", N, INST, SUSPECT, "DRUG_DUPLICATE_CLASS"),
    ("301007", "超说明书适应症", "药品合理使用", N, INST, SUSPECT, "DRUG_OFF_LABEL"),
    ("301008", "药品禁忌症", "药品合理使用", N, INST, SUSPECT, "DRUG_CONTRAINDICATION"),
    ("301009", "老年人用药安全", "药品合理使用", N, INST, SUSPECT, "ELDERLY_DRUG_SAFETY"),
    ("301010", "妊娠期及哺乳期用药安全", "药品合理使用", N, INST, SUSPECT, "PREGNANCY_DRUG_SAFETY"),
    ("301011", "药品相互作用", "药品合理使用", N, INST, SUSPECT, "DRUG_INTERACTION"),
    ("301012", "中药饮片配伍禁忌", "药品合理使用", N, INST, SUSPECT, "HERB_INCOMPATIBILITY"),
    # 医疗类 · 医疗服务项目合理使用
    (
        "302001",
        "无指征检验检查",
        "医疗服务项目合理使用",
        N,
        INST,
        SUSPECT,
        "TEST_WITHOUT_INDICATION",
    ),
    (
        "302002",
        "无指征治疗",
        "医疗服务项目合理使用",
        N,
        INST,
        SUSPECT,
        "TREATMENT_WITHOUT_INDICATION",
    ),
    (
        "302003",
        "医疗服务项目儿童专用",
        "医疗服务项目合理使用",
        N,
        INST,
        CLEAR,
        "SERVICE_CHILD_SPECIFIC",
    ),
    (
        "302004",
        "医疗服务项目区分性别使用",
        "医疗服务项目合理使用",
        N,
        INST,
        CLEAR,
        "SERVICE_GENDER_SPECIFIC",
    ),
    (
        "302005",
        "医疗服务项目禁忌症",
        "医疗服务项目合理使用",
        N,
        INST,
        SUSPECT,
        "SERVICE_CONTRAINDICATION",
    ),
    (
        "302006",
        "医疗服务项目超适应症使用",
        "医疗服务项目合理使用",
        N,
        INST,
        SUSPECT,
        "SERVICE_OFF_LABEL",
    ),
    # 医疗类 · 医用耗材合理使用
    (
        "303001",
        "耗材与医疗服务项目不符",
        "医用耗材合理使用",
        N,
        INST,
        SUSPECT,
        "CONSUMABLE_WITHOUT_SERVICE",
    ),
    (
        "303002",
        "耗材与科室不符",
        "医用耗材合理使用",
        N,
        INST,
        SUSPECT,
        "CONSUMABLE_DEPARTMENT_MISMATCH",
    ),
    ("303003", "耗材数量超标", "医用耗材合理使用", N, INST, SUSPECT, "CONSUMABLE_QUANTITY_OVER"),
]

_NEEDS = {
    "202001": "进销存 stock records (purchases, sales and stock of each drug per institution)",
    "203001": "进销存 stock records (purchases, use and stock of each consumable per institution)",
}

GZ_RULES: tuple[NhsaRule, ...] = tuple(
    NhsaRule(_gz(serial), name, group, layer, subject, result, code, _NEEDS.get(serial, ""))  # type: ignore[arg-type]
    for serial, name, group, layer, subject, result, code in _RULES
)

ZB_RULES: tuple[NhsaRule, ...] = tuple(
    NhsaRule(f"ZB10000205{serial}000", name, "统计指标监测", P, INST, SUSPECT, "")
    for serial, name in (
        ("001", "药费占比"),
        ("002", "检验检查占比"),
        ("003", "耗材占比"),
        ("004", "治疗占比"),
        ("005", "CT检查占比"),
        ("006", "核磁检查占比"),
        ("007", "院内感染发生率"),
        ("008", "非计划再入院率"),
    )
)

TYPES_2025: tuple[NhsaRule, ...] = (
    NhsaRule("T2025-01", "药品限就医方式", "2025 新增", P, INST, CLEAR, "DRUG_VISIT_TYPE_LIMIT"),
    NhsaRule("T2025-02", "医疗服务项目限年龄", "2025 新增", P, INST, CLEAR, "SERVICE_AGE_LIMIT"),
    NhsaRule(
        "T2025-03",
        "医疗服务项目与医用耗材重复收费",
        "2025 新增",
        P,
        INST,
        CLEAR,
        "SERVICE_CONSUMABLE_REPEATED",
    ),
    NhsaRule(
        "T2025-04",
        "医疗服务项目周期超频次",
        "2025 新增",
        P,
        INST,
        CLEAR,
        "SERVICE_PERIOD_FREQUENCY",
    ),
    NhsaRule(
        "T2025-05", "超互联网医院药品支付范围", "2025 新增", P, INST, CLEAR, "INTERNET_DRUG_SCOPE"
    ),
    NhsaRule(
        "T2025-06", "中药饮片超大处方", "2025 新增", N, INST, SUSPECT, "HERB_LARGE_PRESCRIPTION"
    ),
    NhsaRule("T2025-07", "中药饮片超量上传", "2025 新增", N, INST, SUSPECT, "HERB_OVER_QUANTITY"),
    NhsaRule(
        "T2025-08", "医用耗材与性别不符", "2025 新增", N, INST, CLEAR, "CONSUMABLE_GENDER_MISMATCH"
    ),
    NhsaRule(
        "T2025-09", "医用耗材限疾病使用", "2025 新增", N, INST, SUSPECT, "CONSUMABLE_DISEASE_LIMIT"
    ),
    NhsaRule(
        "T2025-10",
        "药品限最大开药天数/开药量（更名）",
        "2025 新增",
        P,
        INST,
        SUSPECT,
        "",
        same_as=_gz("101009"),
    ),
)

ALL_RULES: tuple[NhsaRule, ...] = (*GZ_RULES, *ZB_RULES, *TYPES_2025)
BY_CODE: dict[str, NhsaRule] = {r.code: r for r in ALL_RULES}

# ZB indicators: the ClickHouse view/column that computes each (see schemas/clickhouse/01x).
INDICATORS: dict[str, str] = {
    "ZB10000205001000": "claimguard.indicator_findings (indicator 'drug_ratio')",
    "ZB10000205002000": "claimguard.indicator_findings (indicator 'exam_ratio')",
    "ZB10000205003000": "claimguard.indicator_findings (indicator 'consumable_ratio')",
    "ZB10000205004000": "claimguard.indicator_findings (indicator 'treatment_ratio')",
    "ZB10000205005000": "claimguard.indicator_findings (indicator 'ct_ratio')",
    "ZB10000205006000": "claimguard.indicator_findings (indicator 'mri_ratio')",
    "ZB10000205007000": "needs 院内感染 (hospital-acquired infection) diagnoses flagged per stay",
    "ZB10000205008000": "claimguard.indicator_findings (indicator 'readmission_31d')",
}

# Violation codes of the library's rule types: one per GZ rule and 2025 type (contract §3's
# 20 codes are not among them; where a GZ rule is one of them, the contract code is used).
CONTRACT_SHARED = {"SPLIT_HOSPITALIZATION", "FREQUENT_VISITS"}
LIBRARY_CODES: dict[str, NhsaRule] = {
    r.violation: r
    for r in (*GZ_RULES, *TYPES_2025)
    if r.violation and r.violation not in CONTRACT_SHARED
}
