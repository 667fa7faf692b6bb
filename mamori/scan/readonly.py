"""The scan's guard: one botocore `before-call` hook on the session every scan client is made
from. It lets reads through, answers the two AWS Config calls rdklib makes for a deployed rule
without sending them, and refuses everything else before it leaves the machine.

* Reads are operations named Describe*, Get* or List*, and iam:GenerateCredentialReport (IAM
  builds the report it then reads; nothing of the account changes). Anything else raises
  WriteRefused: a bug in a rule or a remediation's dry run cannot write.
* config:PutEvaluations is where rdklib delivers a rule's evaluations: they are kept here,
  as the scan's result, and nothing is sent to AWS Config.
* config:GetComplianceDetailsByConfigRule is how rdklib (and mamori-unapproved-regions) read
  a deployed rule's earlier results: a scan has none, so it answers an empty page.
"""

import collections
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

READ_PREFIXES = ("Describe", "Get", "List")
READ_OPERATIONS = frozenset({"GenerateCredentialReport"})
RESULT_TOKEN_PREFIX = "mamori-scan"


def is_read(operation: str) -> bool:
    """Whether an API operation (e.g. "DescribeSecurityGroups") only reads."""
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


def result_token(rule_name: str, serial: int) -> str:
    return f"{RESULT_TOKEN_PREFIX}|{rule_name}|{serial}"


class WriteRefused(Exception):
    """A call that is not a read was refused before it was sent. Deliberately not a botocore
    error: no rule or remediation code catches it, so the scan stops that rule and says so."""


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReadOnlyGuard:
    """Install on every session the scan uses; it keeps what it saw."""

    # rule name -> the evaluations rdklib put, in order (what AWS Config would have received)
    evaluations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # "service:Operation" -> calls sent to AWS (all reads)
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    # "service:Operation" of every call refused
    refused: list[str] = field(default_factory=list)
    # Config calls answered here instead of by AWS Config
    answered_locally: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: Any) -> None:
        """session: a boto3.Session (or a botocore session's events). First, so nothing else
        answers or sends a call before the guard has looked at it."""
        events = session.events if hasattr(session, "events") else session
        events.register_first("before-call", self.before_call)

    def before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        operation = model.name
        action = f"{service}:{operation}"
        if service == "config" and operation == "PutEvaluations":
            request = json.loads(params.get("body") or b"{}")
            with self._lock:
                self.answered_locally[action] += 1
                self.evaluations.setdefault(_rule_name(request.get("ResultToken", "")), []).extend(request.get("Evaluations", []))
            return _Response(), {"FailedEvaluations": []}
        if service == "config" and operation == "GetComplianceDetailsByConfigRule":
            with self._lock:
                self.answered_locally[action] += 1
            return _Response(), {"EvaluationResults": []}
        if not is_read(operation):
            with self._lock:
                self.refused.append(action)
            raise WriteRefused(f"mamori scan refused {action}: the scan only reads (Describe*, Get*, List*)")
        with self._lock:
            self.sent[action] += 1
        return None


def _rule_name(token: str) -> str:
    parts = token.split("|")
    return parts[1] if len(parts) == 3 and parts[0] == RESULT_TOKEN_PREFIX else ""
