"""mamori-open-proxy-ports and -restore, run from template.yaml by the document runner
(moto runs no SSM Automation: harness.pack executes each aws:executeScript step's inlined
script, under the IAM actions the template grants the document's role). Every test
re-reads the live group afterwards."""

import json
from typing import Any

import boto3
import botocore.client
import botocore.exceptions
import pytest

from harness.aws import Sandbox
from harness.config_events import change_event, security_group_item
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deploy_rule,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
)
from mamori.records import load_record
from tests.closed_loop import assert_closed_loop
from tests.conftest import inbound, make_group, tcp
from tests.exempt import SOON
from tests.sweep import assert_sweep_agrees

RULE = "mamori-open-proxy-ports"
REMEDIATE = "mamori-open-proxy-ports"
RESTORE = "mamori-open-proxy-ports-restore"
PROXY = (1080, 3128, 3129, 8080, 8118, 8888, 9050)


def evaluate(sandbox: Sandbox, ec2: Any, group_id: str) -> str:
    """The change trigger's verdict on the live group; the periodic sweep must say the same."""
    item = security_group_item(ec2, group_id)
    parameters = deployed_rule_parameters("open-proxy-ports")
    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, parameters))
    assert_sweep_agrees(sandbox, "open-proxy-ports", group_id, sandbox.config.compliance(RULE)[group_id], parameters)
    return sandbox.config.compliance(RULE)[group_id][0]


def remediate(sandbox: Sandbox, group_id: str, **overrides: Any) -> Any:
    return run_document(sandbox, REMEDIATE, remediation_parameters("open-proxy-ports", group_id, **overrides))


def restore(sandbox: Sandbox, group_id: str, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "GroupId": group_id, **extra})


def tags(ec2: Any, group_id: str) -> dict[str, str]:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def record(group_id: str) -> Any:
    found = load_record(boto3.client("ssm"), "open-proxy-ports", group_id)
    assert found is not None, f"no record of {group_id}"
    return found.changed


@pytest.mark.closed_loop("open-proxy-ports")
def test_closed_loop(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0", "::/0"), tcp(22, "203.0.113.0/24", description="office ssh")])
    original = inbound(ec2, group)
    office_only = {("tcp", 22, 22, "203.0.113.0/24")}

    def revoked_only_the_proxy(result: AutomationResult) -> None:
        assert result.outputs["Remediate.Revoked"] == ["tcp 3128 from 0.0.0.0/0", "tcp 3128 from ::/0"]
        assert inbound(ec2, group) == office_only
        assert tags(ec2, group)["mamori:remediated"].endswith("- undo with mamori-open-proxy-ports-restore")
        assert [entry["source"] for entry in record(group)["revoked"]] == ["0.0.0.0/0", "::/0"]

    def unchanged(result: AutomationResult) -> None:
        assert inbound(ec2, group) == office_only
        assert len(record(group)["history"]) == 1

    def put_back(result: AutomationResult) -> None:
        assert inbound(ec2, group) == original
        assert "mamori:remediated" not in tags(ec2, group)

    assert_closed_loop(
        sandbox,
        "open-proxy-ports",
        group,
        item=lambda: security_group_item(ec2, group),
        after_remediation=revoked_only_the_proxy,
        after_second_run=unchanged,
        after_restore=put_back,
    )

    assert inbound(ec2, group) == original  # the second restore changed nothing


def test_wide_tcp_range_is_narrowed_not_lost(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(0, "0.0.0.0/0", to_port=65535, description="everything")])

    result = remediate(sandbox, group)

    assert result.status == "Success", result.failure
    live = inbound(ec2, group)
    assert all(source == "0.0.0.0/0" and protocol == "tcp" for protocol, _, _, source in live)
    open_ports = {port for _, low, high, _ in live for port in range(low, high + 1)}
    assert open_ports == set(range(65536)) - set(PROXY)
    descriptions = {
        r.get("Description")
        for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
        if not r["IsEgress"]
    }
    assert descriptions == {"everything"}
    assert evaluate(sandbox, ec2, group) == "COMPLIANT"

    assert restore(sandbox, group).status == "Success"
    assert inbound(ec2, group) == {("tcp", 0, 65535, "0.0.0.0/0")}


def test_all_traffic_keeps_udp_icmp_and_other_tcp_ports(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])

    result = remediate(sandbox, group)

    assert result.status == "Success", result.failure
    live = inbound(ec2, group)
    assert ("udp", 0, 65535, "::/0") in live
    assert ("icmpv6", -1, -1, "::/0") in live
    assert ("-1", -1, -1, "::/0") not in live
    assert evaluate(sandbox, ec2, group) == "COMPLIANT"


def test_legitimate_entries_survive_untouched(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    other = make_group(ec2, vpc_id)
    group = make_group(
        ec2,
        vpc_id,
        [
            tcp(3128, "0.0.0.0/0", "10.0.0.0/8"),  # one permission, two sources: only the first goes
            tcp(443, "0.0.0.0/0"),
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other}]},
        ],
    )

    assert remediate(sandbox, group).status == "Success"

    assert inbound(ec2, group) == {("tcp", 3128, 3128, "10.0.0.0/8"), ("tcp", 443, 443, "0.0.0.0/0"), ("-1", -1, -1, other)}


def test_a_prefix_list_that_holds_the_internet_is_revoked_and_others_kept(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """Customer-managed prefix lists are resolved live: only the reference to the one that holds
    0.0.0.0/0 goes, and restore puts it back."""
    world = ec2.create_managed_prefix_list(
        PrefixListName="partners", MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    office = ec2.create_managed_prefix_list(
        PrefixListName="office", MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "203.0.113.0/24"}]
    )["PrefixList"]["PrefixListId"]
    both = {
        "IpProtocol": "tcp",
        "FromPort": 3128,
        "ToPort": 3128,
        "PrefixListIds": [{"PrefixListId": world}, {"PrefixListId": office}],
    }
    group = make_group(ec2, vpc_id, [both])
    original = inbound(ec2, group)

    result = remediate(sandbox, group)

    assert (result.status, result.outputs["Remediate.Revoked"]) == ("Success", [f"tcp 3128 from {world} (0.0.0.0/0)"])
    assert inbound(ec2, group) == {("tcp", 3128, 3128, office)}
    assert evaluate(sandbox, ec2, group) == "COMPLIANT"

    restored = restore(sandbox, group)

    assert (restored.status, restored.outputs["Restore.Restored"]) == ("Success", [f"tcp 3128 from {world}"])
    assert inbound(ec2, group) == original


def test_dry_run_changes_nothing(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(8080, "0.0.0.0/0")])
    before = inbound(ec2, group)

    result = remediate(sandbox, group, DryRun="true")

    assert result.status == "Success"
    assert result.outputs["Remediate.Status"] == "DRY_RUN"
    assert result.outputs["Remediate.Revoked"] == ["tcp 8080 from 0.0.0.0/0"]
    assert inbound(ec2, group) == before
    assert "mamori:remediated" not in tags(ec2, group)
    assert not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


def test_exempt_group_is_skipped(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(8080, "0.0.0.0/0")], tags={"mamori:exempt": f"demo proxy until={SOON}"})

    result = remediate(sandbox, group)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "SKIPPED_EXEMPT")
    assert "demo proxy" in result.outputs["Remediate.Message"]
    assert inbound(ec2, group) == {("tcp", 8080, 8080, "0.0.0.0/0")}


def test_expired_exemption_does_not_protect(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(8080, "0.0.0.0/0")], tags={"mamori:exempt": "demo until=2001-01-01"})

    assert remediate(sandbox, group).outputs["Remediate.Status"] == "REMEDIATED"
    assert inbound(ec2, group) == set()


def test_stale_evaluation_never_changes_a_compliant_group(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """The group was fixed by hand after the evaluation: the live re-check finds nothing to do."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0"), tcp(3128, "10.0.0.0/8")])
    assert evaluate(sandbox, ec2, group) == "NON_COMPLIANT"
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[tcp(3128, "0.0.0.0/0")])

    result = remediate(sandbox, group)

    assert result.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "10.0.0.0/8")}


def test_custom_ports_and_trusted_cidrs_are_honoured(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0"), tcp(9999, "0.0.0.0/0"), tcp(9999, "0.0.0.0/1")])

    deploy_rule(sandbox, "open-proxy-ports", ProxyPorts="9999", TrustedCidrs="0.0.0.0/1")  # the rule's, read back

    result = remediate(sandbox, group)

    assert result.outputs["Remediate.Revoked"] == ["tcp 9999 from 0.0.0.0/0"]
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0"), ("tcp", 9999, 9999, "0.0.0.0/1")}


def test_deleted_group_is_nothing_to_do(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    ec2.delete_security_group(GroupId=group)

    result = remediate(sandbox, group)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOT_FOUND")


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"GroupId": "i-0123456789abcdef0"}, "does not match allowedPattern"),
        ({"GroupId": "sg-0123456789abcdef0", "DryRun": "maybe"}, "must be a Boolean"),
        # The ports are the deployed rule's: a starter cannot pass wider ones.
        ({"GroupId": "sg-0123456789abcdef0", "ProxyPorts": "1-65535"}, "unknown ['ProxyPorts']"),
        ({"GroupId": "sg-0123456789abcdef0", "Bogus": "1"}, "unknown ['Bogus']"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox, ec2: Any, vpc_id: str, parameters: dict[str, Any], failure: str
) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])

    result = run_document(sandbox, REMEDIATE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0")}


@pytest.mark.parametrize(
    ("deployed", "failure"),
    [
        ({"ProxyPorts": "proxy"}, "ProxyPorts: 'proxy' is not a port"),
        ({"ProxyPorts": "3128-"}, "ProxyPorts: '3128-' is not a port"),
        ({"TrustedCidrs": "pl-"}, "TrustedCidrs: 'pl-' is neither"),
    ],
)
def test_bad_rule_parameters_fail_the_remediation_clearly(
    sandbox: Sandbox, ec2: Any, vpc_id: str, deployed: dict[str, str], failure: str
) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    sandbox.config.deploy_rule(RULE, {"AssumeRoleMode": "false", **deployed})

    result = remediate(sandbox, group)

    assert result.status == "Failed"
    assert failure in result.failure
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0")}


def test_a_failed_revocation_fails_the_automation_loudly(sandbox: Sandbox, ec2: Any, vpc_id: str, monkeypatch: Any) -> None:
    """ASR #209: an automation must not report success when the fix did not happen."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    real = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def refuse_revoke(self: Any, operation: str, params: Any) -> Any:
        if operation == "RevokeSecurityGroupIngress":
            raise botocore.exceptions.ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse_revoke)

    result = remediate(sandbox, group)

    assert result.status == "Failed"
    assert "RequestLimitExceeded" in result.failure
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0")}
    # The record was written first: nothing the remediation meant to change is lost.
    assert record(group)["revoked"][0]["source"] == "0.0.0.0/0"


def test_repeated_remediations_accumulate_in_one_record(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    assert remediate(sandbox, group).status == "Success"
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[tcp(1080, "::/0")])
    assert remediate(sandbox, group).status == "Success"

    assert len(record(group)["history"]) == 2
    assert [entry["fromPort"] for entry in record(group)["revoked"]] == [3128, 1080]
    assert restore(sandbox, group).status == "Success"
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0"), ("tcp", 1080, 1080, "::/0")}


def test_restore_dry_run_changes_nothing(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    remediate(sandbox, group)

    result = restore(sandbox, group, DryRun=True)

    assert result.outputs["Restore.Status"] == "DRY_RUN"
    assert result.outputs["Restore.Restored"] == ["tcp 3128 from 0.0.0.0/0"]
    assert inbound(ec2, group) == set()
    assert record(group)["revoked"]


def test_each_narrowed_entry_keeps_its_own_origins_description(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0", description="squid test"), tcp(8000, "0.0.0.0/0", to_port=8100)])

    result = remediate(sandbox, group)

    assert result.status == "Success", result.failure
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    described = {(r["FromPort"], r["ToPort"]): r.get("Description") for r in rules if not r["IsEgress"]}
    assert described == {
        (8000, 8079): "kept open by mamori (was tcp 8000-8100)",
        (8081, 8100): "kept open by mamori (was tcp 8000-8100)",
    }


def test_dropped_protocols_are_reported_and_recorded(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    result = remediate(sandbox, group)

    assert result.outputs["Remediate.Dropped"] == ["protocols other than tcp, udp and icmp from 0.0.0.0/0"]
    assert record(group)["history"][0]["dropped"] == result.outputs["Remediate.Dropped"]


def test_a_record_of_before_the_signature_is_refused_and_nothing_restored(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """Records of schema 0 ({groupId, changes}) and 1 (the envelope unsigned) were written before
    mamori signed its records: nothing tells them from a planted one, so the restore refuses
    them, loudly, and changes nothing (SECURITY.md: what protects the records)."""
    group = make_group(ec2, vpc_id, [tcp(22, "203.0.113.0/24")])
    legacy = {
        "groupId": group,
        "changes": [
            {
                "at": "2026-01-02T03:04:05Z",
                "revoked": [{"protocol": "tcp", "fromPort": 3128, "toPort": 3128, "sourceKind": "ipv4", "source": "0.0.0.0/0"}],
                "authorized": [],
                "dropped": [],
            }
        ],
    }
    boto3.client("ssm").put_parameter(Name=f"/mamori/open-proxy-ports/{group}", Value=json.dumps(legacy), Type="String")

    result = restore(sandbox, group)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure and "Nothing was changed" in result.failure
    assert inbound(ec2, group) == {("tcp", 22, 22, "203.0.113.0/24")}
    assert boto3.client("ssm").get_parameter(Name=f"/mamori/open-proxy-ports/{group}")["Parameter"]["Value"] == json.dumps(legacy)


def test_a_planted_record_does_not_keep_the_proxy_open(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """The attacker: anyone who can write Parameter Store plants junk, or a record naming another
    group, where the remediation keeps its record. The remediation still revokes, its own record
    replaces the planted one (never merged into what a restore would open), and the run fails
    loudly: someone planted a record."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    planted = {"groupId": "sg-0123456789abcdef0", "changes": [{"revoked": [{"sourceKind": "ipv4", "source": "0.0.0.0/0"}]}]}
    boto3.client("ssm").put_parameter(Name=f"/mamori/open-proxy-ports/{group}", Value=json.dumps(planted), Type="String")

    result = remediate(sandbox, group)

    assert result.status == "Failed"
    assert f"Revoked 1 entry of {group}" in result.failure and "not merged" in result.failure
    assert inbound(ec2, group) == set()
    assert [entry["fromPort"] for entry in record(group)["revoked"]] == [3128]
