"""What every mamori rule Lambda shares around rdklib: event checks, parameter names,
exemptions, and the entry point that never lets bad input become a traceback."""

import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from rdklib import ComplianceType, Evaluation, Evaluator, InvalidParametersError

from mamori import rule_runtime
from mamori.compliance import ANNOTATION_LIMIT
from mamori.exemption import DEFAULT_MAX_EXEMPTION_DAYS, exemption_status, parse_max_exemption_days

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

# Every rule Lambda imports this module: from here on rdklib runs with warm clients, evaluations
# sent concurrently and a linear clean-up (mamori.rule_runtime).
rule_runtime.install()

# Parameters rdklib itself reads. mamori deploys every rule with AssumeRoleMode=false so
# the Lambda uses its own role (AWS Config's role cannot be assumed by a Lambda).
RDKLIB_PARAMETERS = frozenset({"AssumeRoleMode", "ExecutionRoleName", "ExecutionRoleRegion"})

CHANGE = "ConfigurationItemChangeNotification"
OVERSIZED = "OversizedConfigurationItemChangeNotification"
SCHEDULED = "ScheduledNotification"


def account_id(event: Mapping[str, Any]) -> str:
    """The account a Config rule event is about: the resource id of AWS::::Account evaluations."""
    return str(event.get("accountId") or json.loads(event["invokingEvent"]).get("awsAccountId") or "")


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def check_parameter_names(rule_parameters: Mapping[str, object], known: frozenset[str] | set[str]) -> None:
    """A misspelt parameter (ProxyPort) would silently fall back to the default: refuse it."""
    unknown = sorted(set(rule_parameters) - set(known) - RDKLIB_PARAMETERS)
    if unknown:
        takes = f"this rule takes {', '.join(sorted(known))}" if known else "this rule takes no parameters"
        raise InvalidParametersError(f"Unknown rule parameter(s) {', '.join(unknown)}; {takes}")


def parse_parameter(rule_parameters: Mapping[str, object], name: str, default: str, parse: Callable[[str], Any]) -> Any:
    """parse(value) with a customer error that names the parameter."""
    value = rule_parameters.get(name)
    text = default if value is None or str(value).strip() == "" else str(value)
    try:
        return parse(text)
    except ValueError as error:
        message = str(error)
        raise InvalidParametersError(message if name in message else f"{name}: {message}") from None


# The parameter of every rule that reads mamori:exempt (mamori.exemption).
MAX_EXEMPTION_DAYS = "MaxExemptionDays"


def max_exemption_days(rule_parameters: Mapping[str, object]) -> int:
    return int(parse_parameter(rule_parameters, MAX_EXEMPTION_DAYS, str(DEFAULT_MAX_EXEMPTION_DAYS), parse_max_exemption_days))


def exemption_evaluation(
    tags: object, on: datetime.date | None = None, max_days: int = DEFAULT_MAX_EXEMPTION_DAYS
) -> tuple[Evaluation | None, str]:
    """(NOT_APPLICABLE evaluation, "") for an exempt resource; (None, note) otherwise, where
    note explains an exemption tag that was ignored (no end, too far ahead, expired, malformed)."""
    status = exemption_status(tags, on or today(), max_days)
    if status is None:
        return None, ""
    if status.applies:
        return Evaluation(ComplianceType.NOT_APPLICABLE, annotation=status.message[:ANNOTATION_LIMIT]), ""
    return None, status.message


def with_note(annotation: str, note: str, limit: int = 256) -> str:
    if not note:
        return annotation[:limit]
    combined = f"{annotation} ({note})"
    return combined if len(combined) <= limit else annotation[:limit]


def event_problem(event: object) -> str | None:
    """Why this is not a Config rule event rdklib can handle, or None."""
    if not isinstance(event, Mapping):
        return "the event is not a JSON object"
    if not isinstance(event.get("resultToken"), str):
        return "the event has no resultToken"
    try:
        invoking = json.loads(event.get("invokingEvent") or "")
    except (TypeError, ValueError):
        return "invokingEvent is missing or is not JSON"
    if not isinstance(invoking, Mapping):
        return "invokingEvent is not a JSON object"
    raw_parameters = event.get("ruleParameters")
    if raw_parameters is not None:
        try:
            parameters = json.loads(raw_parameters)
        except (TypeError, ValueError):
            return "ruleParameters is not JSON"
        if not isinstance(parameters, Mapping) or not all(isinstance(v, str) for v in parameters.values()):
            return "ruleParameters must be a JSON object of strings"
    message_type = invoking.get("messageType")
    if message_type == CHANGE:
        item = invoking.get("configurationItem")
        if not isinstance(item, Mapping):
            return "the change notification has no configurationItem"
        missing = [
            key
            for key in ("resourceType", "resourceId", "configurationItemStatus", "configurationItemCaptureTime")
            if not item.get(key)
        ]
        if missing:
            return f"the configuration item lacks {', '.join(missing)}"
    elif message_type == OVERSIZED:
        summary = invoking.get("configurationItemSummary")
        if not isinstance(summary, Mapping) or not summary.get("resourceId") or not summary.get("resourceType"):
            return "the oversized notification has no configurationItemSummary with resourceType and resourceId"
    elif message_type == SCHEDULED:
        if not invoking.get("notificationCreationTime"):
            return "the scheduled notification has no notificationCreationTime"
    else:
        return f"unexpected messageType {message_type!r}"
    return None


def handle(evaluator: Evaluator, event: Any, context: Any) -> Any:
    """The Lambda entry point of every rule: a clear error for a malformed event, then rdklib."""
    problem = event_problem(event)
    if problem is not None:
        LOG.error("Not a Config rule event: %s", problem)
        return {
            "internalErrorMessage": "Malformed AWS Config rule event",
            "internalErrorDetails": problem,
            "customerErrorCode": "InvalidEvent",
            "customerErrorMessage": f"mamori could not evaluate this event: {problem}",
        }
    event = dict(event)
    event.setdefault("eventLeftScope", False)
    return evaluator.handle(event, context)
