"""What a remediation changed, kept in SSM Parameter Store so that its restore document can
put it back: /mamori/<remediation id>/<resource id>, one signed JSON envelope.

    {"schema": 2, "remediation": "open-proxy-ports", "resource": "sg-…",
     "document": "mamori-open-proxy-ports", "at": "2026-11-30T02:18:05Z", "changed": {…},
     "signed": "2026-11-30T02:18:05Z", "mac": "<base64 HMAC-SHA-256>"}

`changed` is the remediation's own account of what it did (the revoked entries, the keys it
deactivated, the contact it replaced): only what its restore needs, and a capped history.

Why a MAC, and not the parameter's type or its last writer: anyone who may call
ssm:PutParameter on /mamori/* (PowerUserAccess may) can write a parameter there, so where the
value sits proves nothing. The envelope carries an HMAC made by KMS (GenerateMac) with the
pack's own HMAC key, alias/mamori-records (template/base.yaml, RecordKey), whose key policy
lets only the roles of the documents and responders that write records generate a MAC; IAM
policies cannot add a signer (the key policy does not delegate GenerateMac to the account).
Reading verifies it (VerifyMac), so integrity depends on who may sign, not on who may write
Parameter Store. A KMS HMAC is checked by KMS itself, is independent of SSM's own metadata
(the last writer in the history is a display field whose format for role sessions is not
documented), and the key never leaves KMS. The MAC covers the remediation and resource the
record is about (a record copied to another resource's path is refused) and the moment it was
signed, which must be the moment Parameter Store says the value was written: an old record of
mamori's, put back later (a replay), is refused too.

A record that fails any of this is refused (UntrustedRecord): a restore changes nothing, and a
remediation never merges it (mamori.remediation says what it does instead).

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

from mamori.service_limits import PARAMETER_VALUE_STANDARD

RECORD_ROOT = "/mamori"
# 2: signed (schema 1 was the same envelope unsigned, 0 a flat object before it; both are refused).
RECORD_SCHEMA = 2
# The tag a remediation leaves on a resource it changed: when, what, and how to undo it.
REMEDIATED_TAG = "mamori:remediated"
# The pack's HMAC key (template/base.yaml: RecordKey, KeySpec HMAC_256, KeyUsage GENERATE_VERIFY_MAC).
RECORD_KEY_ALIAS = "alias/mamori-records"
MAC_ALGORITHM = "HMAC_SHA_256"
# Records stay standard parameters (free, 4 KB: mamori.service_limits names the source): a
# remediation keeps only what its restore needs, and a record that would not fit is not written
# (the remediation still acts, and fails loudly). The MAC'd message is the value without its MAC,
# so it is under KMS's own limit too ("up to 4,096 bytes", botocore's KMS model, GenerateMac Message).
RECORD_VALUE_LIMIT = PARAMETER_VALUE_STANDARD
# How many past changes a record keeps for people (the restore needs none of them).
HISTORY_LIMIT = 10
# A genuine record is written right after it is signed (one KMS call and one SSM call apart).
SIGNED_TO_WRITTEN_SECONDS = 300
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class RecordError(ValueError):
    """A record that cannot be used: not one of this remediation for this resource, or one
    that cannot be written."""


class UntrustedRecord(RecordError):
    """A parameter under /mamori/ that mamori did not write (or that cannot be shown to be
    mamori's now): nothing acts on it."""


class RecordTooLarge(RecordError):
    """The record would not fit a standard parameter."""


@dataclass
class Record:
    remediation: str
    resource: str
    document: str
    at: str
    changed: dict[str, Any] = field(default_factory=dict)
    schema: int = RECORD_SCHEMA

    def envelope(self, signed: str) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA,
            "remediation": self.remediation,
            "resource": self.resource,
            "document": self.document,
            "at": self.at,
            "changed": self.changed,
            "signed": signed,
        }


def canonical(value: Mapping[str, Any]) -> str:
    """The one text of an envelope that is signed, stored and verified."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def record_path(remediation_id: str, resource_id: str) -> str:
    return f"{RECORD_ROOT}/{remediation_id}/{resource_id}"


def _now() -> datetime.datetime:
    # The signing moment is compared with Parameter Store's clock: always the real one.
    return datetime.datetime.now(datetime.UTC)


def _moment(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.UTC)
    except (TypeError, ValueError):
        return None


def _kms(ssm: Any, kms: Any | None) -> Any:
    """The KMS client of the records' region (a record is verified where it is kept)."""
    return kms if kms is not None else boto3.client("kms", region_name=ssm.meta.region_name)


def signed_value(kms: Any, record: Record) -> str:
    """The parameter value of the record: its envelope with the moment of signing and the MAC
    KMS makes over it with the pack's key. RecordTooLarge if it would not fit a standard parameter."""
    size = record_size(record)
    if size > RECORD_VALUE_LIMIT:
        raise RecordTooLarge(f"the record is {size:,} bytes, over Parameter Store's {RECORD_VALUE_LIMIT:,} (standard)")
    envelope = record.envelope(_now().strftime(TIME_FORMAT))
    mac = kms.generate_mac(KeyId=RECORD_KEY_ALIAS, MacAlgorithm=MAC_ALGORITHM, Message=canonical(envelope).encode())["Mac"]
    return canonical({**envelope, "mac": base64.b64encode(mac).decode()})


def parse_record(kms: Any, text: str, remediation_id: str, resource_id: str, written: datetime.datetime | None = None) -> Record:
    """The record in a parameter's value, verified: mamori's MAC (KMS VerifyMac with the pack's
    key), this remediation and this resource, and signed when it was written (`written`:
    Parameter Store's LastModifiedDate). UntrustedRecord says why not."""
    where = record_path(remediation_id, resource_id)
    try:
        value = json.loads(text)
    except ValueError:
        raise UntrustedRecord(f"{where} does not hold a mamori record (not JSON)") from None
    if not isinstance(value, dict):
        raise UntrustedRecord(f"{where} does not hold a mamori record (not a JSON object)")
    if value.get("schema") != RECORD_SCHEMA or not isinstance(value.get("mac"), str):
        raise UntrustedRecord(
            f"{where} holds no mamori signature (written by someone else, or unsigned: before mamori signed its records)"
        )
    try:
        mac = base64.b64decode(value.pop("mac"), validate=True)
    except ValueError:  # binascii.Error is one
        raise UntrustedRecord(f"{where} holds a malformed signature") from None
    try:
        kms.verify_mac(KeyId=RECORD_KEY_ALIAS, MacAlgorithm=MAC_ALGORITHM, Message=canonical(value).encode(), Mac=mac)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "KMSInvalidMacException":
            raise UntrustedRecord(
                f"{where} is not signed with mamori's key {RECORD_KEY_ALIAS}: mamori did not write it"
            ) from None
        raise
    signed = _moment(str(value.get("signed")))
    if signed is None:
        raise UntrustedRecord(f"{where} does not say when it was signed")
    if written is not None and abs((written - signed).total_seconds()) > SIGNED_TO_WRITTEN_SECONDS:
        raise UntrustedRecord(
            f"{where} was signed by mamori at {value['signed']} but written at {written:{TIME_FORMAT}}: an old record "
            "put back by someone else (a replay)"
        )
    if value.get("remediation") != remediation_id or value.get("resource") != resource_id:
        raise UntrustedRecord(
            f"{where} holds mamori's record of {value.get('remediation')}/{value.get('resource')}, not this one"
        )
    if not isinstance(value.get("changed"), dict):
        raise UntrustedRecord(f"{where} does not say what was changed")
    return Record(remediation_id, resource_id, str(value.get("document", "")), str(value.get("at", "")), value["changed"])


def load_record(ssm: Any, remediation_id: str, resource_id: str, kms: Any | None = None) -> Record | None:
    """The verified record of the resource; None when there is none. UntrustedRecord when the
    parameter holds one mamori did not write; a KMS or SSM error as it is."""
    try:
        parameter = ssm.get_parameter(Name=record_path(remediation_id, resource_id))["Parameter"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    written = parameter["LastModifiedDate"]  # botocore gives it with its time zone
    return parse_record(_kms(ssm, kms), str(parameter["Value"]), remediation_id, resource_id, written)


def save_record(ssm: Any, record: Record, kms: Any | None = None) -> str:
    """Sign and write the record (overwriting the previous one of the resource); its path.
    RecordTooLarge before anything is written if it would not fit a standard parameter."""
    path = record_path(record.remediation, record.resource)
    value = signed_value(_kms(ssm, kms), record)
    ssm.put_parameter(
        Name=path,
        Value=value,
        Type="String",
        Overwrite=True,
        Tier="Standard",
        Description=f"Written and signed by {record.document}, for its restore",
    )
    return path


def record_size(record: Record) -> int:
    """Bytes of the record's value once signed (the moment and the MAC have fixed lengths)."""
    return len(canonical({**record.envelope("2000-01-01T00:00:00Z"), "mac": "A" * 44}))


def fits(record: Record) -> bool:
    """Whether the signed record fits a standard parameter."""
    return record_size(record) <= RECORD_VALUE_LIMIT


def delete_record(ssm: Any, remediation_id: str, resource_id: str) -> None:
    try:
        ssm.delete_parameter(Name=record_path(remediation_id, resource_id))
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise


def merged(previous: Mapping[str, Any] | None, **changed: Any) -> dict[str, Any]:
    """A record's `changed` with new values over the previous ones."""
    return {**(previous or {}), **changed}


def capped(history: Sequence[Any], item: Any, limit: int = HISTORY_LIMIT) -> list[Any]:
    """The history with item appended, only the `limit` latest kept."""
    return [*history, item][-limit:]
