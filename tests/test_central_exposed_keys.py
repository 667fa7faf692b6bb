"""A member's root access key found in public: AWS Health's organizational view delivers the
AWS_RISK_CREDENTIALS_EXPOSED event to the management account, and mamori-central-responder deletes
the member's root keys through centralized root access (recorded first), when the exposed key is
one of them. The responder, its stand-ins and its world are tests/test_central_responder.py's."""

from typing import Any

from harness.aws import ACCOUNT
from harness.central import root_principal
from harness.incident_events import exposed
from tests.test_central_responder import PRINCIPAL, World, world

__all__ = ["world"]  # the fixture, used by name below


def organizational_view(key_id: str, member: str) -> dict[str, Any]:
    """As the management account receives it: delivered to it, about the member."""
    return exposed(key_id, account=ACCOUNT, affected=member)


def test_a_members_exposed_root_key_is_deleted_centrally_after_its_record(world: World) -> None:
    [key_id] = world.central.key_ids(world.member_a)
    event = organizational_view(key_id, world.member_a)

    result = world.deliver(event)

    assert (result["acted"], result["status"]) == (True, "REMEDIATED")
    assert world.central.root(world.member_a).access_keys == []
    record = world.record("root-access-key", world.member_a)
    assert record["keys"][key_id]["event"] == event["id"]
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Deleted the root user's access key of member account {world.member_a}"
    assert (
        f"Why: AWS Health reported access key {key_id} of account {world.member_a} exposed in public "
        f"(AWS_RISK_CREDENTIALS_EXPOSED, {event['detail']['eventArn']})." in message["Message"]
    )
    assert world.sandbox.calls_by(root_principal(world.member_a))["iam:DeleteAccessKey"] == 1


def test_an_exposed_key_that_is_not_the_members_root_key_is_left_to_the_members_stack(world: World) -> None:
    world.central.give_root_key(world.member_b)
    before = world.central.key_ids(world.member_b)

    result = world.deliver(organizational_view("AKIAUSERKEY000000001", world.member_b))

    assert result["status"] == "NOTHING_TO_DO" and "is not a root key of" in result["reason"]
    assert world.central.key_ids(world.member_b) == before  # the root key it has stays: not the exposed one
    assert world.inbox() == []
    assert "ssm:PutParameter" not in world.sandbox.calls_by(PRINCIPAL)


def test_leaked_key_response_off_leaves_it_alone(world: World, monkeypatch: Any) -> None:
    monkeypatch.setenv("LEAKED_KEY_RESPONSE", "false")
    [key_id] = world.central.key_ids(world.member_a)

    result = world.deliver(organizational_view(key_id, world.member_a))

    assert result["status"] == "IGNORED" and "LeakedKeyResponse is false" in result["reason"]
    assert world.central.key_ids(world.member_a) == [key_id]
    assert world.sandbox.calls_by(PRINCIPAL) == {}


def test_its_own_accounts_exposure_is_left_to_its_own_stack(world: World) -> None:
    result = world.deliver(exposed("AKIAOWNKEY0000000001"))

    assert result["status"] == "IGNORED" and "its own mamori stack" in result["reason"]
    assert world.sandbox.calls_by(PRINCIPAL) == {}


def test_a_malformed_health_event_is_ignored(world: World) -> None:
    event = organizational_view("AKIAUSERKEY000000001", world.member_a)
    event["detail"]["affectedEntities"] = []

    result = world.deliver(event)

    assert result["status"] == "IGNORED" and "names no access key id" in result["reason"]
    assert world.sandbox.calls_by(PRINCIPAL) == {}
