"""mamori-open-proxy-ports through its real lambda_handler, with real-shaped Config events
built from live moto groups. Evaluations are read back from the Config stand-in, i.e. what
PutEvaluations delivered, not what the handler returned."""

import json
from typing import Any

import pytest

from harness.aws import Sandbox
from harness.config_events import change_event, deleted_item, oversized_event, security_group_item
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal
from tests.conftest import make_group, tcp
from tests.exempt import SOON
from tests.sweep import assert_sweep_agrees

RULE = "mamori-open-proxy-ports"


def evaluate(sandbox: Sandbox, item: dict[str, Any], **parameters: str) -> tuple[str, str]:
    """The change trigger's evaluation of the item; for an item of a live group, the periodic
    sweep must say the same (tests/sweep.py)."""
    rule_parameters = deployed_rule_parameters("open-proxy-ports", **parameters)
    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, rule_parameters))
    result = sandbox.config.compliance(RULE)[item["resourceId"]]
    if item["configurationItemStatus"] == "OK" and isinstance(item["configuration"], dict):
        assert_sweep_agrees(sandbox, "open-proxy-ports", item["resourceId"], result, rule_parameters)
    return result


def evaluate_group(sandbox: Sandbox, ec2: Any, group_id: str, **parameters: str) -> tuple[str, str]:
    return evaluate(sandbox, security_group_item(ec2, group_id), **parameters)


def test_proxy_port_open_to_ipv4_and_ipv6_internet(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0", "::/0"), tcp(22, "203.0.113.0/24")])

    compliance, annotation = evaluate_group(sandbox, ec2, group)

    assert compliance == "NON_COMPLIANT"
    assert "tcp 3128 from 0.0.0.0/0" in annotation and "tcp 3128 from ::/0" in annotation
    assert "22" not in annotation
    assert annotation.endswith("remediation revokes them.")


@pytest.mark.parametrize("shape", ["ipRanges", "ipv4Ranges", "both"])
def test_both_ipv4_shapes_config_records(sandbox: Sandbox, ec2: Any, vpc_id: str, shape: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(8080, "0.0.0.0/0")])

    compliance, annotation = evaluate(sandbox, security_group_item(ec2, group, ipv4_shape=shape))

    assert (compliance, annotation) == (
        "NON_COMPLIANT",
        "Proxy port open to the internet: tcp 8080 from 0.0.0.0/0; remediation revokes it.",
    )


@pytest.mark.parametrize(
    "permission",
    [
        tcp(3128, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"),
        tcp(3128, "203.0.113.0/24", "2001:db8::/48"),
        tcp(443, "0.0.0.0/0", "::/0"),
        tcp(3000, "0.0.0.0/0", to_port=3127),
        {"IpProtocol": "udp", "FromPort": 3128, "ToPort": 3128, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ],
    ids=["private-shared-linklocal", "narrow-public", "other-port", "range-below", "udp"],
)
def test_compliant_groups(sandbox: Sandbox, ec2: Any, vpc_id: str, permission: dict[str, Any]) -> None:
    group = make_group(ec2, vpc_id, [permission])

    assert evaluate_group(sandbox, ec2, group) == ("COMPLIANT", "")


def test_security_group_reference_is_never_the_internet(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    other = make_group(ec2, vpc_id)
    group = make_group(ec2, vpc_id, [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other}]}])

    assert evaluate_group(sandbox, ec2, group) == ("COMPLIANT", "")


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        ({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "all traffic from 0.0.0.0/0"),
        (tcp(1, "0.0.0.0/0", to_port=65535), "tcp 1-65535 from 0.0.0.0/0"),
        (tcp(9000, "0.0.0.0/1", to_port=9100), "tcp 9000-9100 from 0.0.0.0/1 [proxy 9050]"),
        (tcp(1080, "3.0.0.0/8"), "tcp 1080 from 3.0.0.0/8"),
    ],
    ids=["all-protocols", "full-range", "near-world-range", "public-slash-8"],
)
def test_wide_entries_are_named(sandbox: Sandbox, ec2: Any, vpc_id: str, permission: dict[str, Any], expected: str) -> None:
    group = make_group(ec2, vpc_id, [permission])

    compliance, annotation = evaluate_group(sandbox, ec2, group)

    assert compliance == "NON_COMPLIANT"
    assert expected in annotation


def test_customer_prefix_list_is_resolved(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    world = ec2.create_managed_prefix_list(
        PrefixListName="partners",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "198.51.100.0/24"}, {"Cidr": "0.0.0.0/0"}],
    )["PrefixList"]["PrefixListId"]
    office = ec2.create_managed_prefix_list(
        PrefixListName="office", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "203.0.113.0/24"}]
    )["PrefixList"]["PrefixListId"]
    exposed = make_group(
        ec2, vpc_id, [{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "PrefixListIds": [{"PrefixListId": world}]}]
    )
    fine = make_group(
        ec2, vpc_id, [{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "PrefixListIds": [{"PrefixListId": office}]}]
    )

    compliance, annotation = evaluate_group(sandbox, ec2, exposed)

    assert compliance == "NON_COMPLIANT"
    assert f"tcp 3128 from {world} (0.0.0.0/0)" in annotation
    assert evaluate_group(sandbox, ec2, fine) == ("COMPLIANT", "")


def test_aws_managed_prefix_list_is_not_the_internet(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    s3_list = next(pl["PrefixListId"] for pl in ec2.describe_managed_prefix_lists()["PrefixLists"] if pl["OwnerId"] == "AWS")
    group = make_group(
        ec2, vpc_id, [{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "PrefixListIds": [{"PrefixListId": s3_list}]}]
    )

    assert evaluate_group(sandbox, ec2, group) == ("COMPLIANT", "")


def test_trusted_cidrs_and_custom_ports(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/1"), tcp(9999, "0.0.0.0/0")])

    assert evaluate_group(sandbox, ec2, group, TrustedCidrs="0.0.0.0/1")[0] == "COMPLIANT"
    compliance, annotation = evaluate_group(sandbox, ec2, group, ProxyPorts="9999", TrustedCidrs="0.0.0.0/1")
    assert (compliance, annotation) == (
        "NON_COMPLIANT",
        "Proxy port open to the internet: tcp 9999 from 0.0.0.0/0; remediation revokes it.",
    )


def test_exempt_group_is_not_applicable_with_its_reason(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": f"honeypot for research until={SOON}"})

    assert evaluate_group(sandbox, ec2, group) == (
        "NOT_APPLICABLE",
        f"Exempt by mamori:exempt: honeypot for research (until {SOON})",
    )


@pytest.mark.parametrize(
    ("value", "note"),
    [
        ("old lab until=2020-01-01", "mamori:exempt expired on 2020-01-01"),
        ("", "mamori:exempt ignored: it gives no reason"),
        ("lab until=someday", "mamori:exempt ignored: until='someday' is not a YYYY-MM-DD date"),
        ("lab until=20991231", "mamori:exempt ignored: until='20991231' is not a YYYY-MM-DD date"),
        # Exemptions must end (issue 10, item 6; issue 11: an empty date exempted forever).
        ("research honeypot", "mamori:exempt ignored: it has no end; add ' until=YYYY-MM-DD', at most 90 days ahead"),
        ("research honeypot until=", "mamori:exempt ignored: until= gives no date"),
        ("lab until=2999-12-31", "mamori:exempt ignored: until=2999-12-31 is more than 90 days ahead (MaxExemptionDays)"),
    ],
)
def test_expired_or_malformed_exemption_counts_for_nothing(
    sandbox: Sandbox, ec2: Any, vpc_id: str, value: str, note: str
) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": value})

    compliance, annotation = evaluate_group(sandbox, ec2, group)

    assert compliance == "NON_COMPLIANT"
    assert annotation.endswith(f"({note})")


def test_an_exemption_further_ahead_than_max_exemption_days_counts_for_nothing(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": f"lab until={SOON}"})

    compliance, annotation = evaluate_group(sandbox, ec2, group, MaxExemptionDays="7")

    assert compliance == "NON_COMPLIANT"
    assert annotation.endswith(f"(mamori:exempt ignored: until={SOON} is more than 7 days ahead (MaxExemptionDays))")
    assert evaluate_group(sandbox, ec2, group, MaxExemptionDays="30")[0] == "NOT_APPLICABLE"


def test_deleted_group_is_not_applicable(sandbox: Sandbox) -> None:
    item = deleted_item("AWS::EC2::SecurityGroup", "sg-0123456789abcdef0")

    assert evaluate(sandbox, item)[0] == "NOT_APPLICABLE"


def test_event_that_left_scope_is_not_applicable(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    event = change_event(RULE, security_group_item(ec2, group), deployed_rule_parameters("open-proxy-ports"))
    event["eventLeftScope"] = True

    invoke_rule(sandbox, "open-proxy-ports", event)

    assert sandbox.config.compliance(RULE)[group][0] == "NOT_APPLICABLE"


def test_oversized_item_is_fetched_and_evaluated(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(1080, "::/0")])
    item = security_group_item(ec2, group)
    sandbox.config.record_item(item)  # what Config holds; the rule asks GetResourceConfigHistory

    invoke_rule(sandbox, "open-proxy-ports", oversized_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))

    assert sandbox.config.compliance(RULE)[group] == (
        "NON_COMPLIANT",
        "Proxy port open to the internet: tcp 1080 from ::/0; remediation revokes it.",
    )
    assert sandbox.calls_by(lambda_principal(RULE))["config:GetResourceConfigHistory"] == 1


def test_annotation_stays_within_256_characters_and_counts_the_rest(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    cidrs = [f"{n}.0.0.0/8" for n in range(1, 30)]
    group = make_group(ec2, vpc_id, [tcp(3128, *cidrs)])

    compliance, annotation = evaluate_group(sandbox, ec2, group)

    assert compliance == "NON_COMPLIANT"
    assert len(annotation) <= 256
    assert "more; remediation revokes them." in annotation


def test_change_event_makes_exactly_one_call(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """The budget: a change event costs one PutEvaluations and nothing else."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0"), tcp(22, "10.0.0.0/8")])
    item = security_group_item(ec2, group)

    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))

    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"config:PutEvaluations": 1}


# --- bad input: a clear error or NOT_APPLICABLE, never a traceback --------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ProxyPorts": "3128,proxy"}, "ProxyPorts: 'proxy' is not a port or port range"),
        ({"ProxyPorts": "70000"}, "ProxyPorts: '70000' is outside 1-65535"),
        ({"ProxyPorts": " , "}, "ProxyPorts must name at least one port"),
        ({"ProxyPorts": ""}, None),  # empty means the default
        ({"TrustedCidrs": "office"}, "TrustedCidrs: 'office' is neither a CIDR"),
    ],
)
def test_invalid_parameters_give_a_customer_error_naming_the_parameter(
    sandbox: Sandbox, ec2: Any, vpc_id: str, parameters: dict[str, str], message: str | None
) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    event = change_event(RULE, security_group_item(ec2, group), deployed_rule_parameters("open-proxy-ports", **parameters))

    response = invoke_rule(sandbox, "open-proxy-ports", event)

    if message is None:
        assert sandbox.config.compliance(RULE)[group][0] == "NON_COMPLIANT"
    else:
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert response["customerErrorMessage"].startswith(message)
        assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda e: e.pop("invokingEvent"), "invokingEvent is missing or is not JSON"),
        (lambda e: e.update(invokingEvent="{not json"), "invokingEvent is missing or is not JSON"),
        (lambda e: e.update(invokingEvent=json.dumps({"messageType": "Nope"})), "unexpected messageType 'Nope'"),
        (
            lambda e: e.update(invokingEvent=json.dumps({"messageType": "ConfigurationItemChangeNotification"})),
            "the change notification has no configurationItem",
        ),
        (lambda e: e.update(ruleParameters='{"AssumeRoleMode": false}'), "ruleParameters must be a JSON object of strings"),
        (lambda e: e.pop("resultToken"), "the event has no resultToken"),
    ],
)
def test_malformed_events_give_a_clear_error(sandbox: Sandbox, ec2: Any, vpc_id: str, mangle: Any, problem: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    event = change_event(RULE, security_group_item(ec2, group), deployed_rule_parameters("open-proxy-ports"))
    mangle(event)

    response = invoke_rule(sandbox, "open-proxy-ports", event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert problem in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0


def test_configuration_item_missing_fields_gives_a_clear_error(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id)
    item = security_group_item(ec2, group)
    del item["resourceType"]

    response = invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))

    assert response["customerErrorMessage"].endswith("the configuration item lacks resourceType")


@pytest.mark.parametrize(("port", "shown"), [("tcp", "'tcp'"), ("", "''"), (True, "True")])
def test_a_port_that_is_not_a_number_is_not_applicable_with_the_field_named(
    sandbox: Sandbox, ec2: Any, vpc_id: str, port: object, shown: str
) -> None:
    """Issue 11, item 6: such an item ended in an rdklib internal error."""
    item = security_group_item(ec2, make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")]))
    item["configuration"]["ipPermissions"][0]["toPort"] = port  # no longer the live group: the sweep cannot compare
    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))

    assert sandbox.config.compliance(RULE)[item["resourceId"]] == (
        "NOT_APPLICABLE",
        f"The configuration item is malformed (toPort {shown} is not a port number in ipPermissions); nothing was judged.",
    )


def test_item_without_configuration_is_not_applicable_with_a_reason(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id)
    item = security_group_item(ec2, group)
    item["configuration"] = None

    assert evaluate(sandbox, item) == ("NOT_APPLICABLE", "The configuration item holds no configuration.")


def test_other_resource_types_are_not_applicable(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    item = security_group_item(ec2, make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")]))
    item["resourceType"] = "AWS::EC2::Instance"

    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))

    assert sandbox.config.compliance(RULE)[item["resourceId"]][0] == "NOT_APPLICABLE"
