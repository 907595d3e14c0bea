"""Contract §5: downward assignment, escalation, cross-region notification, the region tree."""

from __future__ import annotations

import pytest

from claimguard.routing import RegionTree, Router
from claimguard.routing.regions import level_of


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        ("320602", "320600"),  # county → city
        ("320600", "320000"),  # city → province
        ("320000", "000000"),  # province → national
        ("429004", "420000"),  # 省直辖县级: straight to the province
        ("110105", "110100"),  # municipality district
        ("000000", None),
    ],
)
def test_derived_parents(code: str, parent: str | None):
    assert RegionTree().parent(code) == parent


def test_levels():
    assert [level_of(c) for c in ("320602", "320600", "320000", "000000", "429004")] == [
        "county",
        "city",
        "province",
        "national",
        "county",
    ]


def test_regions_csv_overrides_the_parent():
    tree = RegionTree({"320602": "320699", "320699": "320600"})
    assert tree.ancestors("320602") == ("320602", "320699", "320600", "320000", "000000")


def test_override_cycles_terminate():
    assert RegionTree({"320602": "320600", "320600": "320602"}).ancestors("320602") == (
        "320602",
        "320600",
    )


def test_institution_subject_goes_to_the_institution_county():
    a = Router().assign("institution", "320602", 2, "320612")
    assert (a.region, a.level, a.notify) == ("320602", "county", ())


def test_level3_escalates_to_the_parent():
    a = Router().assign("institution", "320681", 3, "320612")
    assert (a.region, a.level, a.notify) == ("320600", "city", ())


def test_level3_in_a_direct_county_escalates_to_the_province():
    a = Router().assign("institution", "429004", 3, "429004")
    assert (a.region, a.level) == ("420000", "province")


def test_insured_subject_goes_to_the_insured_county_and_is_not_escalated():
    a = Router().assign("insured", "320681", 3, "330106")
    assert (a.region, a.level, a.notify) == ("330106", "county", ("320681",))


def test_cross_city_notifies_the_other_side():
    a = Router().assign("institution", "110105", 3, "440785")
    assert (a.region, a.level, a.notify) == ("110100", "city", ("440785",))


def test_same_city_different_county_is_not_cross_region():
    assert Router().assign("institution", "320602", 1, "320612").notify == ()


def test_direct_counties_are_each_their_own_city():
    assert Router().assign("institution", "429004", 1, "429005").notify == ("429005",)
    assert Router().assign("institution", "429004", 1, "420102").notify == ("420102",)
