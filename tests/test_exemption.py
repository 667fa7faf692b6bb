"""The mamori:exempt tag, including the clock edges of `until=`."""

import datetime

import pytest

from mamori.exemption import exemption_status, tags_as_dict

TODAY = datetime.date(2026, 11, 21)


@pytest.mark.parametrize(
    ("value", "applies", "message"),
    [
        ("research honeypot", True, "Exempt by mamori:exempt: research honeypot"),
        ("lab until=2026-11-21", True, "Exempt by mamori:exempt: lab (until 2026-11-21)"),  # last valid day
        ("lab until=2026-11-20", False, "mamori:exempt expired on 2026-11-20"),  # the day after
        ("lab   until=2027-01-01  ", True, "Exempt by mamori:exempt: lab (until 2027-01-01)"),
        ("until=2027-01-01", False, "mamori:exempt ignored: it gives no reason"),
        ("   ", False, "mamori:exempt ignored: it gives no reason"),
        ("lab until=2027-02-30", False, "mamori:exempt ignored: until='2027-02-30' is not a YYYY-MM-DD date"),
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
