"""A small stand-in for IAM's evaluation of the conditions in a role's Allow statements, for the
calls the sandbox sees (moto evaluates no IAM at all).

It stands in for what IAM does with the few condition keys mamori's roles use, and nothing more:

* the request context IAM builds for a call (IAM User Guide, "AWS global condition context
  keys" and each service's "Condition keys" in the Service Authorization Reference):
  `iam:PolicyARN` (the PolicyArn of Attach/DetachUserPolicy), `account:AlternateContactTypes`
  (the AlternateContactType of Get/Put/DeleteAlternateContact), `sts:TaskPolicyArn` (the task
  policy of AssumeRoot), `aws:TagKeys` and
  `aws:RequestTag/<key>` (the tags a request writes or removes), and `aws:ResourceTag/<key>`
  (the tags the resource has before the call, read from moto's state), and `kms:ResourceAliases`
  (the aliases of the key a KMS call names, read from moto's state), and `dynamodb:LeadingKeys`
  (the partition key values of the items a DynamoDB call reads or writes, by the table's key
  schema in moto's state);
* the operators mamori.catalog.CONDITION_OPERATORS allows, with IAM's semantics ("IAM JSON
  policy elements: Condition operators", "Set operators for multivalued context keys"): every
  operator of a Condition block must hold (AND), any value of a key may match (OR), ForAllValues
  holds for a request without the key, ForAnyValue does not, Null tests presence;
* a call on several resources (StartInstances with many ids) is allowed only if the condition
  holds for each.

An action is allowed when some Allow statement granting it has no condition, or a condition
that holds. Resources are not matched here (any statement granting the action counts).
A key or operator this module cannot evaluate raises ConditionNotEvaluated: an unknown
condition is an error of the test, never a pass.
"""

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

REGION_PSEUDO = "AWS::Region"


class ConditionNotEvaluated(NotImplementedError):
    """A statement uses a condition key or operator this stand-in does not evaluate."""


def resolve(value: Any, account: str, region: str) -> list[str]:
    """A condition value from the template (text, Fn::Sub, or a list of them) as strings,
    with the pseudo parameters CloudFormation would put in."""
    if isinstance(value, list):
        return [text for item in value for text in resolve(item, account, region)]
    if isinstance(value, Mapping) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, resolved in {"AWS::Partition": "aws", "AWS::AccountId": account, REGION_PSEUDO: region}.items():
            text = text.replace("${" + name + "}", resolved)
        if "${" in text.replace("${!", ""):
            raise ConditionNotEvaluated(f"cannot resolve {value!r} in a condition")
        return [text.replace("${!", "${")]
    if isinstance(value, str):
        return [value]
    raise ConditionNotEvaluated(f"cannot read the condition value {value!r}")


# --- the request context ------------------------------------------------------------------


def _tags_written(params: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags a request writes or removes, by key (None: the request names no tags)."""
    tags = params.get("Tags")
    if isinstance(tags, Mapping):  # GuardDuty: {"key": "value"}
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):  # EC2, IAM: [{"Key": ..., "Value": ...}]
        return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags}
    keys = params.get("TagKeys")
    if isinstance(keys, list):  # IAM UntagUser, GuardDuty UntagResource
        return {str(key): "" for key in keys}
    return None


def request_keys(api_action: str, params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The request's own condition keys (lower-cased, as IAM compares key names)."""
    keys: dict[str, list[str]] = {}
    if api_action.startswith("iam:") and "PolicyArn" in params:
        keys["iam:policyarn"] = [str(params["PolicyArn"])]
    if api_action.startswith("account:") and "AlternateContactType" in params:
        keys["account:alternatecontacttypes"] = [str(params["AlternateContactType"])]
    if api_action == "sts:AssumeRoot" and isinstance(params.get("TaskPolicyArn"), Mapping):
        keys["sts:taskpolicyarn"] = [str(params["TaskPolicyArn"].get("arn", ""))]
    tags = _tags_written(params)
    if tags:
        keys["aws:tagkeys"] = list(tags)
        if "Tags" in params:
            keys.update({f"aws:requesttag/{key.lower()}": [value] for key, value in tags.items()})
    return keys


def _detector_id(params: Mapping[str, Any]) -> str | None:
    if "DetectorId" in params:
        return str(params["DetectorId"])
    arn = str(params.get("ResourceArn", ""))
    return arn.rsplit("detector/", 1)[1].split("/")[0] if "detector/" in arn else None


def resource_tags(api_action: str, params: Mapping[str, Any], account: str, region: str) -> list[dict[str, str]] | None:
    """The tags of each resource the call acts on, as they are before the call, from moto's
    state; None when this stand-in does not know the call's resources."""
    service = api_action.split(":")[0]
    if service == "ec2":
        from moto.ec2.models import ec2_backends

        ids = [*(params.get("InstanceIds") or []), *(params.get("Resources") or [])]
        ids += [params[name] for name in ("InstanceId", "GroupId") if name in params]
        if not ids:
            return None
        tagged = ec2_backends[account][region].tags
        return [dict(tagged.get(str(resource_id), {})) for resource_id in ids]
    if service == "guardduty":
        from moto.guardduty.models import guardduty_backends

        detector_id = _detector_id(params)
        if detector_id is None:
            return None
        detector = guardduty_backends[account][region].detectors.get(detector_id)
        return [dict(detector.tags) if detector is not None else {}]
    if service == "iam" and "UserName" in params:
        from moto.iam.models import iam_backends

        backend = iam_backends[account]["global"]
        if str(params["UserName"]) not in backend.users:
            return [{}]
        return [{tag["Key"]: tag["Value"] for tag in backend.list_user_tags(str(params["UserName"]))}]
    return None


def key_aliases(params: Mapping[str, Any], account: str, region: str) -> list[str] | None:
    """The aliases of the KMS key the call names (KeyId: an id, ARN, alias or alias ARN), from
    moto's state; None when the call names no key."""
    if "KeyId" not in params:
        return None
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    key = backend.keys.get(backend.any_id_to_key_id(str(params["KeyId"])))
    return sorted(key.aliases) if key is not None else []


def leading_keys(params: Mapping[str, Any], account: str, region: str) -> list[str] | None:
    """The partition key values of the item a single-item DynamoDB call names (Item or Key), by
    the table's key schema in moto's state; None when the call names no item."""
    item = params.get("Item") or params.get("Key")
    if not isinstance(item, Mapping) or "TableName" not in params:
        return None
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account][region].get_table(str(params["TableName"]))
    value = item.get(table.hash_key_attr)
    return [str(next(iter(value.values())))] if isinstance(value, Mapping) and value else []


# --- evaluation -------------------------------------------------------------------------------


def _test(operator: str, wanted: Sequence[str], present: list[str] | None) -> bool:
    if operator == "Null":
        if wanted not in (["true"], ["false"]):
            raise ConditionNotEvaluated(f"Null takes 'true' or 'false', not {wanted}")
        return (present is None or not present) == (wanted == ["true"])
    if operator == "ForAllValues:StringEquals":
        return all(value in wanted for value in present or [])
    if operator == "ForAnyValue:StringEquals":
        return any(value in wanted for value in present or [])
    if operator == "ForAllValues:StringLike":
        return all(any(fnmatch.fnmatchcase(value, pattern) for pattern in wanted) for value in present or [])
    if present is None:
        return False  # a single-valued operator on a key the request lacks does not match
    if operator in ("StringEquals", "ArnEquals"):
        return any(value in wanted for value in present)
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(value, pattern) for value in present for pattern in wanted)
    raise ConditionNotEvaluated(f"the sandbox does not evaluate the condition operator {operator}")


def condition_holds(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, list[str]], account: str, stack_region: str
) -> bool:
    """stack_region: where the template was deployed (what its ${AWS::Region} is)."""
    for operator, keys in condition.items():
        for key, value in keys.items():
            if not _test(operator, resolve(value, account, stack_region), context.get(key.lower())):
                return False
    return True


KNOWN_KEYS = (
    "iam:policyarn",
    "account:alternatecontacttypes",
    "sts:taskpolicyarn",
    "aws:tagkeys",
    "aws:requesttag/",
    "aws:resourcetag/",
    "kms:resourcealiases",
    "dynamodb:leadingkeys",
)


def refusal(
    api_action: str,
    action: str,
    granting: Sequence[Mapping[str, Mapping[str, Any]]],
    params: Mapping[str, Any],
    account: str,
    region: str,
    stack_region: str,
) -> str | None:
    """Why IAM would refuse the call for the conditions of the Allow statements that grant
    `action` (the IAM action authorizing `api_action`), or None. `granting`: each such
    statement's Condition block ({} for a statement without one). `region` is the call's,
    `stack_region` the one the template was deployed in (its ${AWS::Region})."""
    if not granting or any(not condition for condition in granting):
        return None
    used = {key.lower() for condition in granting for keys in condition.values() for key in keys}
    unknown = sorted(key for key in used if not key.startswith(KNOWN_KEYS))
    if unknown:
        raise ConditionNotEvaluated(f"{action}: the sandbox does not evaluate the condition keys {unknown}")
    base = request_keys(api_action, params)
    if "kms:resourcealiases" in used:
        aliases = key_aliases(params, account, region)
        if aliases is None:
            raise ConditionNotEvaluated(f"{api_action}: the sandbox does not know which key it acts on")
        base = base | {"kms:resourcealiases": aliases}
    if "dynamodb:leadingkeys" in used:
        keys = leading_keys(params, account, region)
        if keys is None:
            raise ConditionNotEvaluated(f"{api_action}: the sandbox does not know which items it acts on")
        base = base | {"dynamodb:leadingkeys": keys}
    per_resource = [base]
    if any(key.startswith("aws:resourcetag/") for key in used):
        tags = resource_tags(api_action, params, account, region)
        if tags is None:
            raise ConditionNotEvaluated(f"{api_action}: the sandbox does not know which resources it acts on")
        per_resource = [base | {f"aws:resourcetag/{k.lower()}": [v] for k, v in each.items()} for each in tags]
    for context in per_resource:
        if not any(condition_holds(condition, context, account, stack_region) for condition in granting):
            return f"is not granted {action} under the conditions of its statements, for this request ({dict(context)})"
    return None
