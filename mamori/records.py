"""What a remediation changed, kept in SSM Parameter Store so that its restore document can
put it back: /mamori/<remediation id>/<resource id>, one versioned JSON envelope.

    {"schema": 1, "remediation": "open-proxy-ports", "resource": "sg-…",
     "document": "mamori-open-proxy-ports", "at": "2026-11-30T02:18:05Z", "changed": {…}}

`changed` is the remediation's own account of what it did (the revoked entries, the keys it
deactivated, the contact it replaced). Records written before the envelope existed (schema 0:
a flat object naming the resource, e.g. {"groupId", "changes"}) are read as the same envelope.

Inlined into SSM documents: standard library and botocore only.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

RECORD_ROOT = "/mamori"
RECORD_SCHEMA = 1
# The tag a remediation leaves on a resource it changed: when, what, and how to undo it.
REMEDIATED_TAG = "mamori:remediated"
# How the records of schema 0 named their resource and their time; the rest was `changed`.
_LEGACY_RESOURCE_KEYS = ("groupId", "userId", "instanceId", "accountId")
_LEGACY_TIME_KEYS = ("at", "stoppedAt")


class RecordError(ValueError):
    """A parameter under /mamori/ that is not a record of this remediation for this resource."""


@dataclass
class Record:
    remediation: str
    resource: str
    document: str
    at: str
    changed: dict[str, Any] = field(default_factory=dict)
    schema: int = RECORD_SCHEMA

    def as_json(self) -> str:
        envelope = {
            "schema": RECORD_SCHEMA,
            "remediation": self.remediation,
            "resource": self.resource,
            "document": self.document,
            "at": self.at,
            "changed": self.changed,
        }
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True)


def record_path(remediation_id: str, resource_id: str) -> str:
    return f"{RECORD_ROOT}/{remediation_id}/{resource_id}"


def parse_record(text: str, remediation_id: str, resource_id: str) -> Record:
    """The envelope in a parameter's value, of this remediation and this resource, or RecordError."""
    where = record_path(remediation_id, resource_id)
    try:
        value = json.loads(text)
    except ValueError:
        raise RecordError(f"{where} does not hold a mamori record (not JSON)") from None
    if not isinstance(value, dict):
        raise RecordError(f"{where} does not hold a mamori record")
    if "schema" not in value:
        return _legacy_record(value, remediation_id, resource_id)
    if value.get("schema") != RECORD_SCHEMA:
        raise RecordError(f"{where} holds a record of schema {value.get('schema')!r}; this document reads {RECORD_SCHEMA}")
    if value.get("remediation") != remediation_id or value.get("resource") != resource_id:
        raise RecordError(f"{where} names {value.get('remediation')}/{value.get('resource')}, not this resource")
    if not isinstance(value.get("changed"), dict):
        raise RecordError(f"{where} does not say what was changed")
    return Record(remediation_id, resource_id, str(value.get("document", "")), str(value.get("at", "")), value["changed"])


def _legacy_record(value: dict[str, Any], remediation_id: str, resource_id: str) -> Record:
    """A schema-0 record (before the envelope): the resource key must name this resource."""
    named = [str(value[key]) for key in _LEGACY_RESOURCE_KEYS if key in value]
    if named and named[0] != resource_id:
        raise RecordError(f"{record_path(remediation_id, resource_id)} names {named[0]}, not this resource")
    at = next((str(value[key]) for key in _LEGACY_TIME_KEYS if key in value), "")
    changed = {key: item for key, item in value.items() if key not in _LEGACY_RESOURCE_KEYS}
    return Record(remediation_id, resource_id, f"mamori-{remediation_id}", at, changed, schema=0)


def load_record(ssm: Any, remediation_id: str, resource_id: str) -> Record | None:
    try:
        text = ssm.get_parameter(Name=record_path(remediation_id, resource_id))["Parameter"]["Value"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    return parse_record(text, remediation_id, resource_id)


def save_record(ssm: Any, record: Record) -> str:
    """Write the record (overwriting the previous one of the resource); its path."""
    path = record_path(record.remediation, record.resource)
    # Intelligent-Tiering: standard (free) up to 4 KB, advanced only for a very large record.
    ssm.put_parameter(
        Name=path,
        Value=record.as_json(),
        Type="String",
        Overwrite=True,
        Tier="Intelligent-Tiering",
        Description=f"Written by {record.document}: what it changed, for its restore document",
    )
    return path


def delete_record(ssm: Any, remediation_id: str, resource_id: str) -> None:
    try:
        ssm.delete_parameter(Name=record_path(remediation_id, resource_id))
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise


def merged(previous: Mapping[str, Any] | None, **changed: Any) -> dict[str, Any]:
    """A record's `changed` with new values over the previous ones."""
    return {**(previous or {}), **changed}
