"""What every act of the demo shares: printing (wrapped text, tables), the Demo with its
checks, and running a rule and its remediation the way AWS Config would."""

import shutil
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.aws import Sandbox
from harness.config_events import change_event, periodic_event
from harness.pack import (
    AutomationResult,
    deploy_rule,
    invoke_rule,
    remediation_parameters,
    rule_spec,
    run_document,
    template,
)
from mamori.records import Record, load_record

# Fit a 100-120 column terminal; 110 when not a terminal (stable output for logs and READMEs).
WIDTH = min(120, max(100, shutil.get_terminal_size((110, 40)).columns))
MIN_LAST_COLUMN = 40
OK, FAILED = "✓", "✗"


# --- output ------------------------------------------------------------------------------


def say(text: str = "", indent: int = 0, hang: int = 0) -> None:
    """Print text wrapped to WIDTH (paragraphs kept), indented; continuation lines `hang` further in."""
    if not text:
        print()
        return
    pad = " " * indent
    for line in text.split("\n"):
        wrapped = textwrap.fill(line, WIDTH, initial_indent=pad, subsequent_indent=pad + " " * hang, break_on_hyphens=False)
        print(wrapped if line else "")


def banner(title: str) -> None:
    print()
    print("=" * WIDTH)
    print(title)
    print("=" * WIDTH)


def step(title: str) -> None:
    print()
    print(f"--- {title} " + "-" * max(3, WIDTH - len(title) - 5))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], indent: int = 2) -> None:
    """A plain table. The last column wraps to fit WIDTH; when that would leave it narrower than
    MIN_LAST_COLUMN, it goes on its own lines under each row instead (empty cells print nothing)."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in body]) for i, header in enumerate(headers)]
    room = WIDTH - (sum(widths[:-1]) + 2 * (len(headers) - 1) + indent)
    pad = " " * indent
    below = room < min(widths[-1], MIN_LAST_COLUMN)
    if below:
        widths = widths[:-1]
    else:
        widths[-1] = min(widths[-1], room)

    def line(cells: Sequence[str]) -> str:
        return (pad + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))).rstrip()

    if below:
        print(line(headers[:-1]))
        print(f"{pad}    {headers[-1]}")
        print(line(["-" * width for width in widths]))
        for row in body:
            print(line(row[:-1]))
            if row[-1].strip():
                say(row[-1], indent=indent + 4, hang=2)
        return
    print(line(headers))
    print(line(["-" * width for width in widths]))
    for row in body:
        wrapped = textwrap.wrap(row[-1], widths[-1], break_on_hyphens=False) or [""]
        print(line([*row[:-1], wrapped[0]]))
        for more in wrapped[1:]:
            print(line([""] * (len(row) - 1) + [more]))


# --- expectations --------------------------------------------------------------------------


@dataclass
class Demo:
    """What every act shares: the mock account, its Config stand-in, and the checks so far."""

    sandbox: Sandbox
    ec2: Any
    ssm: Any
    checks: list[tuple[bool, str]] = field(default_factory=list)
    act: str = ""

    def check(self, ok: bool, passed: str, failed: str | None = None) -> bool:
        """Print and record one expectation; the demo exits non-zero if any fails."""
        text = passed if ok else (failed or passed)
        self.checks.append((ok, f"{self.act}: {text}"))
        say(f"{OK} {text}" if ok else f"{FAILED} EXPECTED BUT NOT SO: {text}", indent=2, hang=2)
        return ok

    @property
    def failures(self) -> list[str]:
        return [text for ok, text in self.checks if not ok]


# --- what every rule-driven act does -------------------------------------------------------


def evaluate(demo: Demo, rule_id: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Invoke the real rule Lambda once per configuration item, as Config does on a change."""
    spec = rule_spec(rule_id)
    parameters = deploy_rule(demo.sandbox, rule_id)  # as deployed: its remediation reads them back
    failures = []
    for item in items:
        demo.sandbox.config.record_item(item)  # what Config keeps (read back for oversized items)
        response = invoke_rule(demo.sandbox, rule_id, change_event(spec.config_rule_name, item, parameters))
        if not isinstance(response, list):  # rdklib answers errors with a dict instead of evaluations
            failures.append(f"{item['resourceId']}: {response}")
    demo.check(
        not failures,
        f"{spec.config_rule_name} evaluated {len(items)} configuration items",
        f"{spec.config_rule_name} did not evaluate: " + "; ".join(failures),
    )


def evaluate_periodic(demo: Demo, rule_id: str, pack: Mapping[str, str] | None = None) -> None:
    """Invoke the real rule Lambda with a scheduled notification, as Config does for a periodic rule.
    pack: the pack parameters set at deployment; the rule gets those it takes."""
    spec = rule_spec(rule_id)
    taken = {p.name for p in spec.parameters}
    overrides = {name: value for name, value in (pack or {}).items() if name in taken}
    event = periodic_event(spec.config_rule_name, deploy_rule(demo.sandbox, rule_id, **overrides))
    response = invoke_rule(demo.sandbox, rule_id, event)
    demo.check(
        isinstance(response, list),  # rdklib answers errors with a dict instead of evaluations
        f"{spec.config_rule_name} evaluated the account (periodic)",
        f"{spec.config_rule_name} did not evaluate: {response}",
    )


def compliance_table(demo: Demo, rule_id: str, names: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Print what the Config dashboard would show for the rule; return {resource id: (compliance, annotation)}."""
    rule_name = rule_spec(rule_id).config_rule_name
    results = demo.sandbox.config.compliance(rule_name)
    order = [rid for rid in names if rid in results] + sorted(rid for rid in results if rid not in names)
    rows = [[rule_name, rid, names.get(rid, ""), results[rid][0], results[rid][1]] for rid in order]
    table(["Rule", "Resource id", "Name", "Compliance", "Annotation"], rows)
    return results


def expect_compliance(demo: Demo, rule_id: str, names: Mapping[str, str], expected: Mapping[str, str], label: str = "") -> None:
    """Check the rule's compliance per resource; label (e.g. the rule's name) goes before the list."""
    results = demo.sandbox.config.compliance(rule_spec(rule_id).config_rule_name)
    wrong = [
        f"{names.get(rid, rid)} is {results.get(rid, ('not evaluated',))[0]}, expected {want}"
        for rid, want in expected.items()
        if results.get(rid, ("",))[0] != want
    ]
    summary = (f"{label}: " if label else "") + ", ".join(f"{names.get(rid, rid)} {want}" for rid, want in expected.items())
    demo.check(not wrong, f"compliance as expected: {summary}", "; ".join(wrong))


def api_calls(demo: Demo) -> dict[str, int]:
    """{action: count} of every call the pack's code made since the sandbox's last reset_counts()."""
    counted: dict[str, int] = {}
    for (_, action), count in demo.sandbox.calls.items():
        counted[action] = counted.get(action, 0) + count
    return counted


def remediation_document(rule_id: str) -> str:
    link = rule_spec(rule_id).remediation
    assert link is not None, f"{rule_id} has no paired remediation"
    return f"mamori-{link.document}"


def run_remediation(demo: Demo, document: str, parameters: Mapping[str, Any], label: str) -> AutomationResult:
    """Run the SSM document with the document runner and print its outputs."""
    result = run_document(demo.sandbox, document, parameters)
    say(f"{document} on {label}: automation {result.status}", indent=2)
    width = max([10] + [len(key.split(".", 1)[-1]) + 1 for key in result.outputs])
    for key, value in result.outputs.items():
        name = key.split(".", 1)[-1]
        values = value if isinstance(value, list) else [value]
        lines = [str(v) for v in values if str(v)] or ["(none)"]
        for index, text in enumerate(lines):
            say(f"{name if index == 0 else '':<{width}}{text}", indent=6, hang=width)
    if result.failure:
        say(f"failure: {result.failure}", indent=6)
    return result


def remediated_resource_type(rule_id: str) -> str:
    """The resource type the rule's RemediationConfiguration applies to (Config starts it for no other)."""
    for resource in template()["Resources"].values():
        if resource["Type"] == "AWS::Config::RemediationConfiguration" and resource["Properties"]["ConfigRuleName"] == {
            "Ref": rule_spec(rule_id).logical_id
        }:
            return str(resource["Properties"]["ResourceType"])
    raise KeyError(f"{rule_id} has no RemediationConfiguration")


def remediate_noncompliant(
    demo: Demo, rule_id: str, names: Mapping[str, str], pack_values: Mapping[str, str] | None = None
) -> dict[str, AutomationResult]:
    """What automatic remediation does: run the paired document for every NON_COMPLIANT resource
    of the type its RemediationConfiguration names. pack_values: what Refs to pack resources and
    parameters resolve to ({"NotificationTopic": <topic arn>, "ApprovedRegions": …})."""
    rule_name = rule_spec(rule_id).config_rule_name
    document = remediation_document(rule_id)
    resource_type = remediated_resource_type(rule_id)
    results = {}
    for (kind, rid), evaluation in demo.sandbox.config.evaluations.get(rule_name, {}).items():
        if evaluation["ComplianceType"] == "NON_COMPLIANT" and kind == resource_type:
            label = f"{rid} ({names[rid]})" if rid in names else rid
            parameters = remediation_parameters(rule_id, rid, pack_values=pack_values)
            results[rid] = run_remediation(demo, document, parameters, label)
    return results


def output(result: AutomationResult, name: str) -> Any:
    """An automation output by its name, whatever the step is called."""
    return next((value for key, value in result.outputs.items() if key.split(".", 1)[-1] == name), None)


def read_record(demo: Demo, remediation_id: str, resource_id: str) -> Record | None:
    """The remediation's record of the resource, as its restore document reads it."""
    return load_record(demo.ssm, remediation_id, resource_id)


def show_messages(demo: Demo, messages: Sequence[Mapping[str, Any]]) -> None:
    say("Messages on mamori-notifications (read back through an SQS subscription to the topic):", indent=2)
    for message in messages:
        say(f"Subject: {message.get('Subject')}", indent=6, hang=9)
        last = str(message.get("Message", "")).strip().splitlines()[-1:] or [""]
        say(f"... {last[0]}", indent=9)
    if not messages:
        say("(none)", indent=6)
