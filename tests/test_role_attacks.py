"""Someone who may pass a mamori role (iam:PassRole) runs their own runbook with it: plain API
calls under the role's grants and conditions, as template.yaml writes them (harness/conditions.py
evaluates the conditions for IAM). Each role does what its document does and nothing more:
the pack's own policy only, the SECURITY contact only, mamori's tags only, and restores only on
what carries mamori's mark. The real documents are driven too, with input an attacker controls.
"""

import datetime
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.exceptions
import pytest

from harness.aws import ACCOUNT, REGION, Sandbox
from harness.config_events import periodic_event
from harness.ec2_state import launch, state, stop
from harness.iam_state import create_managed_policy, make_user, user_created_ago
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    deployed_rule_parameters,
    invoke_rule,
    make_deduplication_table,
    remediation_parameters,
    role_grants,
    run_document,
    template,
)
from mamori.catalog import document_spec
from tests.conftest import make_group, tcp

PACK_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/mamori/mamori-deny-without-mfa-{REGION}"
ALLOW_EVERYTHING = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
MAMORIS_MARK = {"mamori:remediated": "2026-11-20T00:00:00Z changed by mamori"}


@contextmanager
def using_role(sandbox: Sandbox, document: str) -> Iterator[None]:
    """Calls inside run under the role of `document`, as in a runbook of the attacker's that was
    passed that role. They are not the pack's code: not added to the session's calls that
    tests/meta compares with the grants."""
    with using_role_id(sandbox, document_spec(document).role_id):
        yield


@contextmanager
def using_role_id(sandbox: Sandbox, role: str) -> Iterator[None]:
    """Calls inside run under the template's role `role` (a logical id), as an attacker's."""
    saved, Sandbox.session_calls = Sandbox.session_calls, None
    try:
        with sandbox.acting_as(f"attacker-with:{role}", role_grants(role)):
            yield
    finally:
        Sandbox.session_calls = saved


def refused(call: Callable[[], Any]) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


def allowed(call: Callable[[], Any]) -> bool:
    call()
    return True


# --- iam-user-console-mfa: the pack's policy, and nothing else --------------------------------


def test_the_mfa_role_attaches_no_policy_but_the_packs(sandbox: Sandbox) -> None:
    iam = boto3.client("iam")
    create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
    lookalike = iam.create_policy(PolicyName="mamori-deny-without-mfa-x", Path="/mamori/", PolicyDocument=ALLOW_EVERYTHING)
    make_user("mallory")

    with using_role(sandbox, "mamori-iam-user-console-mfa"):
        admin = refused(
            lambda: iam.attach_user_policy(UserName="mallory", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        )
        look_alike = refused(lambda: iam.attach_user_policy(UserName="mallory", PolicyArn=lookalike["Policy"]["Arn"]))
        the_pack_policy = allowed(lambda: iam.attach_user_policy(UserName="mallory", PolicyArn=PACK_POLICY))

    assert (admin, look_alike, the_pack_policy) == (True, True, True)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="mallory")["AttachedPolicies"]] == [PACK_POLICY]


def test_the_mfa_restore_role_detaches_only_the_packs_policy_and_only_from_users_mamori_tagged(sandbox: Sandbox) -> None:
    iam = boto3.client("iam")
    create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
    guard = iam.create_policy(PolicyName="guard", PolicyDocument=ALLOW_EVERYTHING.replace("Allow", "Deny"))["Policy"]["Arn"]
    make_user("held", tags=MAMORIS_MARK)  # mamori attached the policy
    make_user("admin-held")  # a person attached it: not mamori's to take away
    for user in ("held", "admin-held"):
        iam.attach_user_policy(UserName=user, PolicyArn=PACK_POLICY)
        iam.attach_user_policy(UserName=user, PolicyArn=guard)

    with using_role(sandbox, "mamori-iam-user-console-mfa-restore"):
        other_policy = refused(lambda: iam.detach_user_policy(UserName="held", PolicyArn=guard))
        untagged_user = refused(lambda: iam.detach_user_policy(UserName="admin-held", PolicyArn=PACK_POLICY))
        mamoris = allowed(lambda: iam.detach_user_policy(UserName="held", PolicyArn=PACK_POLICY))

    assert (other_policy, untagged_user, mamoris) == (True, True, True)


def test_a_lookalike_policy_is_never_attached_and_never_counts(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy named like the pack's, under /mamori/, allowing everything: the document takes
    no policy to attach, and a user who has the look-alike is still NON_COMPLIANT."""
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    iam = boto3.client("iam")
    create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
    lookalike = iam.create_policy(
        PolicyName=f"mamori-deny-without-mfa-{REGION}-x", Path="/mamori/", PolicyDocument=ALLOW_EVERYTHING
    )
    lookalike_arn = lookalike["Policy"]["Arn"]
    victim = make_user("victim", password=True)
    user_created_ago("victim", datetime.timedelta(days=3))

    forged = run_document(
        sandbox,
        "mamori-iam-user-console-mfa",
        remediation_parameters("iam-user-console-mfa", victim, PolicyArn=lookalike_arn),
    )
    attached_by_forgery = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="victim")["AttachedPolicies"]]
    iam.attach_user_policy(UserName="victim", PolicyArn=lookalike_arn)  # put there by someone else
    invoke_rule(
        sandbox,
        "iam-user-console-mfa",
        periodic_event("mamori-iam-user-console-mfa", deployed_rule_parameters("iam-user-console-mfa")),
    )
    compliance = sandbox.config.compliance("mamori-iam-user-console-mfa")[victim][0]
    fixed = run_document(sandbox, "mamori-iam-user-console-mfa", remediation_parameters("iam-user-console-mfa", victim))

    assert forged.status == "Failed" and "unknown ['PolicyArn']" in forged.failure
    assert attached_by_forgery == []
    assert compliance == "NON_COMPLIANT"
    assert fixed.outputs["Remediate.Status"] == "REMEDIATED"
    assert {p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="victim")["AttachedPolicies"]} == {
        lookalike_arn,
        PACK_POLICY,
    }


# --- security-contact: SECURITY only ----------------------------------------------------------


def test_the_contact_roles_reach_the_security_contact_only(sandbox: Sandbox) -> None:
    account = boto3.client("account")
    mailbox = {"Name": "Mallory", "Title": "Ops", "EmailAddress": "mallory@example.net", "PhoneNumber": "555-0100"}
    account.put_alternate_contact(AlternateContactType="BILLING", **{**mailbox, "EmailAddress": "billing@example.com"})

    with using_role(sandbox, "mamori-security-contact"):
        billing = refused(lambda: account.put_alternate_contact(AlternateContactType="BILLING", **mailbox))
        operations = refused(lambda: account.put_alternate_contact(AlternateContactType="OPERATIONS", **mailbox))
        read_billing = refused(lambda: account.get_alternate_contact(AlternateContactType="BILLING"))
        security = allowed(lambda: account.put_alternate_contact(AlternateContactType="SECURITY", **mailbox))
    with using_role(sandbox, "mamori-security-contact-restore"):
        delete_billing = refused(lambda: account.delete_alternate_contact(AlternateContactType="BILLING"))

    assert (billing, operations, read_billing, delete_billing, security) == (True, True, True, True, True)
    assert account.get_alternate_contact(AlternateContactType="BILLING")["AlternateContact"]["EmailAddress"] == (
        "billing@example.com"
    )


# --- tags: mamori's own, nothing else ----------------------------------------------------------


def test_tag_actions_write_and_remove_only_mamoris_tags(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """mamori:exempt above all: a role that could set it could silence any rule, and one that
    could remove it could undo a person's decision."""
    iam = boto3.client("iam")
    make_user("bob", tags={"mamori:exempt": "break-glass until=2026-12-01"})
    group = make_group(ec2, vpc_id)
    [instance] = launch(REGION)
    exempt: list[Any] = [{"Key": "mamori:exempt", "Value": "forever"}]

    with using_role(sandbox, "mamori-stale-access-keys"):
        user_exempt = refused(lambda: iam.tag_user(UserName="bob", Tags=exempt))
        user_mixed = refused(lambda: iam.tag_user(UserName="bob", Tags=[*exempt, {"Key": "mamori:remediated", "Value": "x"}]))
        user_mark = allowed(lambda: iam.tag_user(UserName="bob", Tags=[{"Key": "mamori:remediated", "Value": "x"}]))
    with using_role(sandbox, "mamori-stale-access-keys-restore"):
        user_unexempt = refused(lambda: iam.untag_user(UserName="bob", TagKeys=["mamori:exempt"]))
    with using_role(sandbox, "mamori-open-proxy-ports"):
        group_exempt = refused(lambda: ec2.create_tags(Resources=[group], Tags=exempt))
    with using_role(sandbox, "mamori-open-proxy-ports-restore"):
        group_unexempt = refused(lambda: ec2.delete_tags(Resources=[group], Tags=[{"Key": "mamori:exempt"}]))
    with using_role(sandbox, "mamori-unapproved-regions"):
        instance_name = refused(lambda: ec2.create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": "x"}]))

    assert (user_exempt, user_mixed, user_unexempt, group_exempt, group_unexempt, instance_name) == (True,) * 6
    assert user_mark
    assert {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="bob")["Tags"]}["mamori:exempt"] == (
        "break-glass until=2026-12-01"
    )


def test_the_guardduty_role_creates_only_detectors_that_carry_mamoris_tag(sandbox: Sandbox) -> None:
    guardduty = boto3.client("guardduty")

    with using_role(sandbox, "mamori-guardduty-enabled"):
        untagged = refused(lambda: guardduty.create_detector(Enable=True))
        other_tag = refused(lambda: guardduty.create_detector(Enable=True, Tags={"owner": "mallory"}))
        marked = allowed(lambda: guardduty.create_detector(Enable=True, Tags={"mamori:remediated": "x"}))

    assert (untagged, other_tag, marked) == (True, True, True)
    assert len(guardduty.list_detectors()["DetectorIds"]) == 1


# --- restores: only what carries mamori's mark --------------------------------------------------


def test_the_guardduty_restore_role_deletes_and_suspends_only_detectors_mamori_tagged(sandbox: Sandbox) -> None:
    theirs = boto3.client("guardduty", region_name="eu-west-1")
    customers = theirs.create_detector(Enable=True)["DetectorId"]
    mamoris = boto3.client("guardduty", region_name="eu-west-3").create_detector(Enable=True, Tags=MAMORIS_MARK)["DetectorId"]

    with using_role(sandbox, "mamori-guardduty-enabled-restore"):
        delete = refused(lambda: theirs.delete_detector(DetectorId=customers))
        suspend = refused(lambda: theirs.update_detector(DetectorId=customers, Enable=False))
        own = allowed(lambda: boto3.client("guardduty", region_name="eu-west-3").delete_detector(DetectorId=mamoris))

    assert (delete, suspend, own) == (True, True, True)
    assert theirs.get_detector(DetectorId=customers)["Status"] == "ENABLED"


def test_restore_roles_start_reactivate_and_reopen_only_what_mamori_tagged(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    iam = boto3.client("iam")
    make_user("carol", keys=1)
    [carols_key] = [k["AccessKeyId"] for k in iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]]
    iam.update_access_key(UserName="carol", AccessKeyId=carols_key, Status="Inactive")  # a person's decision
    [parked] = launch(REGION)
    stop(REGION, parked)  # a person's decision
    group = make_group(ec2, vpc_id)
    open_ssh = tcp(22, "0.0.0.0/0")

    with using_role(sandbox, "mamori-stale-access-keys-restore"):
        key = refused(lambda: iam.update_access_key(UserName="carol", AccessKeyId=carols_key, Status="Active"))
    with using_role(sandbox, "mamori-unapproved-regions-restore"):
        instance = refused(lambda: ec2.start_instances(InstanceIds=[parked]))
    with using_role(sandbox, "mamori-open-proxy-ports-restore"):
        ingress = refused(lambda: ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[open_ssh]))

    assert (key, instance, ingress) == (True, True, True)
    assert iam.list_access_keys(UserName="carol")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert state(REGION, parked) == "stopped"

    ec2.create_tags(Resources=[parked, group], Tags=[{"Key": "mamori:remediated", "Value": "x"}])
    with using_role(sandbox, "mamori-unapproved-regions-restore"):
        assert allowed(lambda: ec2.start_instances(InstanceIds=[parked]))
    with using_role(sandbox, "mamori-open-proxy-ports-restore"):
        assert allowed(lambda: ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[open_ssh]))


def test_a_restore_document_aimed_at_what_mamori_did_not_change_changes_nothing(sandbox: Sandbox) -> None:
    """A planted record (anyone with ssm:PutParameter) names an instance a person stopped: the
    restore document, run with its own role, cannot start it (the role's condition)."""
    [parked] = launch(REGION)
    stop(REGION, parked)
    record = {
        "schema": 1,
        "remediation": "unapproved-regions",
        "resource": parked,
        "document": "mamori-unapproved-regions",
        "at": "2026-11-20T00:00:00Z",
        "changed": {"region": REGION, "previousState": "running"},
    }
    boto3.client("ssm").put_parameter(Name=f"/mamori/unapproved-regions/{parked}", Value=json.dumps(record), Type="String")

    result = run_document(
        sandbox, "mamori-unapproved-regions-restore", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "InstanceId": parked}
    )

    assert result.status == "Failed" or result.outputs.get("Restore.Status") != "RESTORED"
    assert state(REGION, parked) == "stopped"


# --- the deduplication table: each publisher only under its own prefix ------------------------


def test_a_publisher_cannot_silence_another_publishers_messages(sandbox: Sandbox) -> None:
    """Whoever runs with the notifier's role (its code, or a person who may pass it) writes only
    keys under "notifier#": a key of the central responder's, written ahead of it, would make it
    think it had told already."""
    table = make_deduplication_table()
    dynamodb = boto3.client("dynamodb")
    item = lambda key: {"pk": {"S": key}, "expires": {"N": "9999999999"}}  # noqa: E731

    with using_role_id(sandbox, "NotifierRole"):
        others = refused(lambda: dynamodb.put_item(TableName=table, Item=item("central#root-key#210987654321")))
        forget = refused(lambda: dynamodb.delete_item(TableName=table, Key={"pk": {"S": "abuse-responder#health#x"}}))
        own = allowed(lambda: dynamodb.put_item(TableName=table, Item=item("notifier#event#1")))

    assert (others, forget, own) == (True, True, True)
