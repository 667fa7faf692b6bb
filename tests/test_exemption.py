"""The mamori:exempt tag, including the clock edges of `until=`."""

import datetime

import pytest

from mamori.exemption import ExemptionStatus, exemption_status, parse_max_exemption_days, tags_as_dict

TODAY = datetime.date(2026, 11, 21)


@pytest.mark.parametrize(
    ("value", "applies", "message"),
    [
        ("lab until=2026-11-21", True, "Exempt by mamori:exempt: lab (until 2026-11-21)"),  # last valid day
        ("lab until=2026-11-20", False, "mamori:exempt expired on 2026-11-20"),  # the day after
        ("lab   until=2027-01-01  ", True, "Exempt by mamori:exempt: lab (until 2027-01-01)"),
        ("lab until=2027-02-19", True, "Exempt by mamori:exempt: lab (until 2027-02-19)"),  # 90 days ahead
        ("lab until=2027-02-20", False, "mamori:exempt ignored: until=2027-02-20 is more than 90 days ahead (MaxExemptionDays)"),
        ("until=2027-01-01", False, "mamori:exempt ignored: it gives no reason"),
        ("   ", False, "mamori:exempt ignored: it gives no reason"),
        ("lab until=2027-02-30", False, "mamori:exempt ignored: until='2027-02-30' is not a YYYY-MM-DD date"),
        # An exemption must end: none, an empty date or a malformed one counts for nothing.
        ("research honeypot", False, "mamori:exempt ignored: it has no end; add ' until=YYYY-MM-DD', at most 90 days ahead"),
        ("research honeypot until=", False, "mamori:exempt ignored: until= gives no date"),
        ("lab until=20261201", False, "mamori:exempt ignored: until='20261201' is not a YYYY-MM-DD date"),
        ("lab until=2026-W49-1", False, "mamori:exempt ignored: until='2026-W49-1' is not a YYYY-MM-DD date"),
        ("lab until=2026-12-01 really", False, "mamori:exempt ignored: until=YYYY-MM-DD must end the value"),
    ],
)
def test_exemption_values(value: str, applies: bool, message: str) -> None:
    status = exemption_status({"mamori:exempt": value}, TODAY)
    assert status is not None
    assert (status.applies, status.message) == (applies, message)


def test_no_tag_is_no_exemption() -> None:
    assert exemption_status({"Name": "web"}, TODAY) is None
    assert exemption_status(None, TODAY) is None


@pytest.mark.parametrize(
    "tags",
    [
        {"mamori:exempt": "x"},
        [{"Key": "mamori:exempt", "Value": "x"}],
        [{"key": "mamori:exempt", "value": "x"}],
    ],
)
def test_every_tag_shape_aws_uses(tags: object) -> None:
    assert tags_as_dict(tags) == {"mamori:exempt": "x"}


def test_max_exemption_days_sets_how_far_ahead_an_end_may_be() -> None:
    in_ten_days = {"mamori:exempt": "patching window until=2026-12-01"}

    assert exemption_status(in_ten_days, TODAY, max_days=10) == ExemptionStatus(
        True, "Exempt by mamori:exempt: patching window (until 2026-12-01)"
    )
    assert exemption_status(in_ten_days, TODAY, max_days=9) == ExemptionStatus(
        False, "mamori:exempt ignored: until=2026-12-01 is more than 9 days ahead (MaxExemptionDays)"
    )


@pytest.mark.parametrize("text", ["0", "367", "-1", "ninety", "", "1000"])
def test_max_exemption_days_is_one_day_to_a_year(text: str) -> None:
    with pytest.raises(ValueError, match="MaxExemptionDays"):
        parse_max_exemption_days(text)
    assert parse_max_exemption_days(" 366 ") == 366
