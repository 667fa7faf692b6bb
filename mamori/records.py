"""What a remediation changed, kept in SSM Parameter Store so that its restore document can
put it back: /mamori/<remediation id>/<resource id>, a JSON object with a list of changes.

Inlined into SSM documents: standard library and botocore only.
"""

import json
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

RECORD_ROOT = "/mamori"
# The tag a remediation leaves on a resource it changed: when, what, and how to undo it.
REMEDIATED_TAG = "mamori:remediated"


def record_path(remediation_id: str, resource_id: str) -> str:
    return f"{RECORD_ROOT}/{remediation_id}/{resource_id}"


def load_record(ssm: Any, path: str) -> dict[str, Any] | None:
    try:
        value = ssm.get_parameter(Name=path)["Parameter"]["Value"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    record = json.loads(value)
    if not isinstance(record, dict):
        raise ValueError(f"{path} does not hold a mamori record")
    return record


def save_record(ssm: Any, path: str, record: Mapping[str, Any]) -> None:
    # Intelligent-Tiering: standard (free) up to 4 KB, advanced only for a very large record.
    ssm.put_parameter(
        Name=path,
        Value=json.dumps(record, separators=(",", ":"), sort_keys=True),
        Type="String",
        Overwrite=True,
        Tier="Intelligent-Tiering",
        Description="Written by a mamori remediation: what it changed, for its restore document",
    )


def delete_record(ssm: Any, path: str) -> None:
    try:
        ssm.delete_parameter(Name=path)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
