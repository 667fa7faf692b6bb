"""The harness's events and configuration items against their published shapes
(harness/shapes.py names each source): a shape guessed wrong would make every rule test pass
on input AWS never sends."""

from typing import Any

import pytest

from harness import shapes
from harness.aws import Sandbox
from harness.config_events import (
    change_event,
    configuration_item,
    oversized_event,
    periodic_event,
    security_group_item,
)
from harness.incident_events import proxy_report
from tests.conftest import make_group, tcp
from tests.test_abuse_response import DOS_SAMPLE
from tests.test_notifications import ABUSE_EVENT


def _group_item(ec2: Any, vpc_id: str) -> dict[str, Any]:
    sources = [
        tcp(3128, "0.0.0.0/0", "::/0", description="proxy"),
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": make_group(ec2, vpc_id), "Description": "peers"}]},
    ]
    return security_group_item(ec2, make_group(ec2, vpc_id, sources, tags={"team": "web"}))


@pytest.mark.parametrize("message_type", sorted(shapes.SAM_SAMPLES))
def test_the_rule_events_have_sams_fields_with_sams_types(sandbox: Sandbox, ec2: Any, vpc_id: str, message_type: str) -> None:
    item = _group_item(ec2, vpc_id)
    built = {
        "ConfigurationItemChangeNotification": lambda: change_event("r", item, {"A": "1"}),
        "OversizedConfigurationItemChangeNotification": lambda: oversized_event("r", item, {"A": "1"}),
        "ScheduledNotification": lambda: periodic_event("r", {"A": "1"}),
    }[message_type]()
    sample = shapes.sam_sample(message_type)
    import json

    invoking = json.loads(built["invokingEvent"])

    assert set(built) == set(sample)  # the envelope: exactly SAM's fields
    assert {k: type(v) for k, v in built.items() if k != "invokingEvent"} == {
        k: type(v) for k, v in sample.items() if k != "invokingEvent"
    }
    assert set(sample["invokingEvent"]) <= set(invoking)
    assert invoking["messageType"] == sample["invokingEvent"]["messageType"] == message_type
    for part in ("configurationItem", "configurationItemSummary"):
        if part in sample["invokingEvent"]:
            theirs, ours = sample["invokingEvent"][part], invoking[part]
            assert set(theirs) <= set(ours), set(theirs) - set(ours)
            for key, value in theirs.items():
                if value is not None and ours[key] is not None:
                    assert type(ours[key]) is type(value), key


def test_configuration_items_carry_what_sams_sample_item_carries() -> None:
    sample = shapes.sam_sample("ConfigurationItemChangeNotification")["invokingEvent"]["configurationItem"]
    ours = configuration_item("AWS::::Account", "123456789012", {}, {"a": "b"})

    assert set(sample) <= set(ours)
    assert isinstance(ours["tags"], dict) and isinstance(sample["tags"], dict)  # a map, not a list
    assert set(sample["relationships"][0]) == {"resourceId", "resourceType", "name"}


def test_a_security_groups_configuration_has_only_the_schemas_properties_with_their_types(
    sandbox: Sandbox, ec2: Any, vpc_id: str
) -> None:
    paths = shapes.property_paths(_group_item(ec2, vpc_id)["configuration"])

    unknown = sorted(set(paths) - set(shapes.SECURITY_GROUP_CONFIGURATION))
    assert not unknown, f"not in AWS::EC2::SecurityGroup's schema: {unknown}"
    python_types = {"integer": {"int"}, "string": {"str", "NoneType"}, "cidr_block": {"str"}}
    for path, kinds in paths.items():
        assert kinds <= python_types[shapes.SECURITY_GROUP_CONFIGURATION[path]], (path, kinds)
    assert {"ipPermissions.fromPort", "ipPermissions.ipv4Ranges.cidrIp", "ipPermissions.ipRanges"} <= set(paths)


def test_relationships_have_the_fields_config_writes(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    [relation] = _group_item(ec2, vpc_id)["relationships"]

    assert {"resourceId", "resourceType", "name"} <= set(relation)
    assert set(relation) - {"name"} <= {"resourceId", "resourceName", "resourceType"}  # the schema's relationships.*


@pytest.mark.parametrize(
    "event",
    [DOS_SAMPLE, proxy_report("i-0abc1234def567890", "203.0.113.7"), ABUSE_EVENT],
    ids=["published-sample", "open-proxy-report", "notifier-event"],
)
def test_health_events_have_only_the_documented_fields(event: dict[str, Any]) -> None:
    detail = event["detail"]

    assert set(event) <= shapes.HEALTH_EVENT
    assert set(detail) <= shapes.HEALTH_DETAIL, set(detail) - shapes.HEALTH_DETAIL
    assert {"eventArn", "service", "eventTypeCode", "eventTypeCategory", "startTime"} <= set(detail)
    for description in detail.get("eventDescription", []):
        assert set(description) <= shapes.HEALTH_DESCRIPTION
    for entity in detail.get("affectedEntities", []):
        assert set(entity) <= shapes.HEALTH_ENTITY


def test_the_shape_checks_fail_on_a_guessed_field() -> None:
    assert "ipPermissions.tags.key" not in shapes.SECURITY_GROUP_CONFIGURATION
    assert "eventSeverity" not in shapes.HEALTH_DETAIL
    assert shapes.property_paths({"a": [{"b": 1}, {"c": "x"}], "d": []}) == {"a.b": {"int"}, "a.c": {"str"}}
