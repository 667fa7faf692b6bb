"""Who may sign mamori's records: the key policy statement RecordWritersSign of the record key
(template/base.yaml, RecordKey), made from the template's own roles, once the template holds
them all (template.yaml, then again for member-template.yaml and org-template.yaml, whose roles
and conditions differ).

The signers are exactly the roles whose policy grants kms:GenerateMac on the record key
(mamori.catalog.record_permissions with PutParameter, record_key_permissions(signs=True)): one
source, so a new writer of records can sign and nothing else can. The statement names the
account as principal and the roles in an aws:PrincipalArn condition, not the roles as
principals: KMS refuses a key policy whose principals IAM has not propagated yet, which a role
created in the same stack may not be, while a condition value is not checked that way. IAM
policies still cannot add a signer, because the condition must match too.
"""

from collections.abc import Mapping
from typing import Any

from mamori.catalog import RECORD_KEYS, RECORD_KEYS_ANY_REGION, ROLE_PATH
from mamori.records import MAC_ALGORITHM
from tools.cfn import sub

RECORD_KEY = "RecordKey"
SIGNERS_SID = "RecordWritersSign"
SIGN = "kms:GenerateMac"
REGION_SUFFIX = "-${AWS::Region}"


class RecordKeyError(ValueError):
    """The template cannot say who signs records."""


def _grants_signing(role: Mapping[str, Any], keys: tuple[str, ...] = (RECORD_KEYS, RECORD_KEYS_ANY_REGION)) -> bool:
    for policy in role.get("Properties", {}).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and SIGN in actions and statement.get("Resource") in [sub(key) for key in keys]:
                return True
    return False


def signs_in_every_region(role: Mapping[str, Any]) -> bool:
    """Whether the role signs with the record key of any region (RECORD_KEYS_ANY_REGION)."""
    return _grants_signing(role, (RECORD_KEYS_ANY_REGION,))


def regional_role_name(prefix: str) -> dict[str, Any]:
    """<prefix>-<region>: one role per region of an account (IAM names are global), a name the
    other regions' stacks can foresee."""
    return sub(prefix + REGION_SUFFIX)


def signer_roles(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the roles granted kms:GenerateMac on the record key, in template order."""
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::IAM::Role" and _grants_signing(resource)
    ]


def signing_statement(sid: str, principals: dict[str, Any]) -> dict[str, Any]:
    """A key-policy statement letting the account's principals that `principals` (a condition on
    aws:PrincipalArn) names sign records, with the records' MAC algorithm only."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": SIGN,
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:MacAlgorithm": MAC_ALGORITHM}, **principals},
    }


def add_record_signers(template: dict[str, Any]) -> None:
    """Write RecordWritersSign into the record key's policy (replacing an earlier one): a role
    that exists only under a condition is named only under it."""
    resources = template["Resources"]
    if RECORD_KEY not in resources:
        raise RecordKeyError(f"the template has no {RECORD_KEY} (template/base.yaml)")
    signers = signer_roles(template)
    arns: list[Any] = []
    for logical_id in signers:
        arn = {"Fn::GetAtt": [logical_id, "Arn"]}
        condition = resources[logical_id].get("Condition")
        arns.append({"Fn::If": [condition, arn, {"Ref": "AWS::NoValue"}]} if condition else arn)
    if not any("Fn::GetAtt" in arn for arn in arns):
        raise RecordKeyError("no role that writes records exists unconditionally: the key policy would name no signer")
    policy = resources[RECORD_KEY]["Properties"]["KeyPolicy"]
    policy["Statement"] = [statement for statement in policy["Statement"] if statement.get("Sid") != SIGNERS_SID]
    policy["Statement"].append(signing_statement(SIGNERS_SID, {"ArnEquals": {"aws:PrincipalArn": arns}}))


def admit_other_regions(template: dict[str, Any], role_id: str, condition: str) -> None:
    """Member template: let the role's namesakes of the account's other regions (the role named
    <prefix>-${AWS::Region} under ROLE_PATH in every stack) sign with this stack's record key, in
    a statement of its own (ArnLike on <prefix>-*), under the condition (the home region's, and
    the role's own)."""
    resources = template["Resources"]
    role = resources[role_id]["Properties"]
    name = str(role["RoleName"].get("Fn::Sub", "")) if isinstance(role.get("RoleName"), dict) else ""
    if not (signs_in_every_region(resources[role_id]) and name.endswith(REGION_SUFFIX) and role.get("Path") == ROLE_PATH):
        raise RecordKeyError(f"{role_id} must sign in every region and be named <prefix>{REGION_SUFFIX} under {ROLE_PATH}")
    prefix = name.removesuffix(REGION_SUFFIX)
    if not prefix.startswith("mamori-") or "$" in prefix or "*" in prefix or "?" in prefix:
        raise RecordKeyError(f"{role_id}: {prefix!r} is not a plain mamori- name, so <prefix>-* would admit more")
    others = sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{ROLE_PATH}{prefix}-*")
    statement = signing_statement(f"{role_id}OfOtherRegionsSigns", {"ArnLike": {"aws:PrincipalArn": others}})
    resources[RECORD_KEY]["Properties"]["KeyPolicy"]["Statement"].append(
        {"Fn::If": [condition, statement, {"Ref": "AWS::NoValue"}]}
    )
