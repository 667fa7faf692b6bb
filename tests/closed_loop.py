"""The closed loop every remediation must close, driven through the deployed pieces: the rule's
real handler on a real-shaped Config event, and the real documents from template.yaml.

    NON_COMPLIANT -> remediate (REMEDIATED) -> COMPLIANT -> remediate again (NOTHING_TO_DO)
    -> restore (RESTORED) -> NON_COMPLIANT -> restore again (NOTHING_TO_RESTORE)

A remediation without a restore document can only tell people (the root user's credentials:
only root can fix them), so its loop is

    NON_COMPLIANT -> remediate (NOTIFIED) -> still NON_COMPLIANT -> remediate again
    (NOTHING_TO_DO: the OpsItem is already open) -> still NON_COMPLIANT

Mark the test `@pytest.mark.closed_loop("<remediation id>")`; tests/meta/test_closed_loops.py
fails for a remediation that has no such test.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.aws import Sandbox
from harness.config_events import change_event, periodic_event
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    rule_spec,
    run_document,
)
from mamori.catalog import RemediationSpec, load_remediations
from mamori.status import NOTHING_TO_DO, NOTHING_TO_RESTORE, NOTIFIED, REMEDIATED, RESTORED
from tests.sweep import assert_sweep_agrees

# The remediation ids assert_closed_loop was started for, since tests/conftest.py last cleared it.
RUN: set[str] = set()

Check = Callable[[AutomationResult], None]


def _no_check(result: AutomationResult) -> None:
    return None


@dataclass
class ClosedLoop:
    """What each step answered, for the test's own assertions on outputs."""

    evaluations: list[tuple[str, str]] = field(default_factory=list)  # (compliance, annotation), in order
    remediated: AutomationResult | None = None
    again: AutomationResult | None = None
    restored: AutomationResult | None = None
    restored_again: AutomationResult | None = None


def mark_problem(marked: str, run: set[str]) -> str | None:
    """Why a test marked closed_loop(marked), which ran the loops of `run`, is not that
    remediation's closed-loop test; None when it is."""
    if marked in run:
        return None
    return f"marked closed_loop({marked!r}) but ran assert_closed_loop for {', '.join(sorted(run)) or 'nothing'}"


def status(result: AutomationResult) -> str:
    """The document's Status output (every mamori document has exactly one)."""
    values = [value for name, value in result.outputs.items() if name.endswith(".Status")]
    assert len(values) == 1, f"expected one Status output, got {result.outputs}"
    return str(values[0])


def _remediation(rule_id: str) -> RemediationSpec:
    link = rule_spec(rule_id).remediation
    assert link is not None, f"rule {rule_id} has no remediation"
    return next(r for r in load_remediations() if r.id == link.document)


def assert_closed_loop(
    sandbox: Sandbox,
    rule_id: str,
    resource_id: str,
    *,
    pack: Mapping[str, str] | None = None,
    item: Callable[[], Mapping[str, Any]] | None = None,
    after_remediation: Check = _no_check,
    after_second_run: Check = _no_check,
    after_restore: Check = _no_check,
) -> ClosedLoop:
    """Run the loop on what the test arranged: a resource the rule finds NON_COMPLIANT.

    pack: what the deployer set, by pack parameter or resource logical id ({"ApprovedRegions":
    ..., "NotificationTopic": <topic arn>}); the rule gets those that are its parameters, the
    remediation what its RemediationConfiguration passes. item: for a configuration-change rule,
    the configuration item Config would record for the resource now (read at each evaluation).
    after_*: the test's checks of live state at that step, given the document's result."""
    spec = rule_spec(rule_id)
    remediation = _remediation(rule_id)
    RUN.add(remediation.id)
    pack = dict(pack or {})
    rule_parameters = deployed_rule_parameters(rule_id, **{p.name: pack[p.name] for p in spec.parameters if p.name in pack})
    sandbox.config.deploy_rule(spec.config_rule_name, rule_parameters)  # remediations may read them back
    if spec.trigger == "configuration-change":
        assert item is not None, f"{rule_id} is change-triggered: pass item, the configuration item of {resource_id}"
    loop = ClosedLoop()

    def evaluate(expected: str, step: str) -> None:
        before = dict(sandbox.config.evaluations.get(spec.config_rule_name, {}))
        event = (
            change_event(spec.config_rule_name, item(), rule_parameters)
            if item is not None
            else periodic_event(spec.config_rule_name, rule_parameters)
        )
        response = invoke_rule(sandbox, rule_id, event)
        written = {
            key: value
            for key, value in sandbox.config.evaluations.get(spec.config_rule_name, {}).items()
            if key[1] == resource_id and before.get(key) is not value
        }
        assert written, f"{step}: {spec.config_rule_name} wrote no evaluation of {resource_id} (it answered {response!r})"
        [evaluation] = written.values()
        loop.evaluations.append((evaluation["ComplianceType"], evaluation.get("Annotation", "")))
        if spec.sweep is not None:  # a hybrid rule's sweep decides as its change trigger
            assert_sweep_agrees(sandbox, rule_id, resource_id, loop.evaluations[-1], rule_parameters)
        assert evaluation["ComplianceType"] == expected, f"{step}: {evaluation}"

    def run(document: str, parameters: Mapping[str, Any], expected: str, step: str) -> AutomationResult:
        result = run_document(sandbox, document, parameters)
        assert result.status == "Success", f"{step}: {document} failed: {result.failure}"
        assert status(result) == expected, f"{step}: {document} answered {status(result)}, not {expected}: {result.outputs}"
        return result

    remediate = remediation_parameters(rule_id, resource_id, pack_values=pack)
    evaluate("NON_COMPLIANT", "before remediation")
    if remediation.restore is None:
        assert after_restore is _no_check, f"{remediation.id} has no restore document"
        loop.remediated = run(remediation.remediate.name, remediate, NOTIFIED, "remediation")
        after_remediation(loop.remediated)
        loop.again = run(remediation.remediate.name, remediate, NOTHING_TO_DO, "second run")
        after_second_run(loop.again)
        evaluate("NON_COMPLIANT", "after notifying twice (only a person can fix it)")
        return loop

    loop.remediated = run(remediation.remediate.name, remediate, REMEDIATED, "remediation")
    after_remediation(loop.remediated)
    evaluate("COMPLIANT", "after remediation")
    loop.again = run(remediation.remediate.name, remediate, NOTHING_TO_DO, "second run")
    after_second_run(loop.again)
    assert spec.remediation is not None
    restore = {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, spec.remediation.resource_id_parameter: resource_id}
    loop.restored = run(remediation.restore.name, restore, RESTORED, "restore")
    after_restore(loop.restored)
    evaluate("NON_COMPLIANT", "after restore")
    loop.restored_again = run(remediation.restore.name, restore, NOTHING_TO_RESTORE, "second restore")
    return loop
