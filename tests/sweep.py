"""A hybrid rule's periodic sweep decides as its change trigger does (issue 12): the test
helpers that evaluate a live resource through the change trigger call `assert_sweep_agrees`
right after, so every such scenario in tests/ is decided both ways.

The sweep runs on the same moto state with the same rule parameters; its evaluations go to a
scratch rule name in the Config stand-in, and the calls it makes are left out of the test's
own counts (the session's grant check still sees them)."""

import collections
from collections.abc import Mapping

from harness.aws import Sandbox, result_token
from harness.config_events import periodic_event
from harness.pack import invoke_rule, rule_spec


def assert_sweep_agrees(
    sandbox: Sandbox, rule_id: str, resource_id: str, by_change: tuple[str, str], rule_parameters: Mapping[str, str]
) -> None:
    spec = rule_spec(rule_id)
    assert spec.sweep is not None, f"{rule_id} has no periodic sweep"
    scratch = f"{spec.config_rule_name}-sweep-check"
    calls, puts = collections.Counter(sandbox.calls), sandbox.config.put_evaluations_calls
    event = periodic_event(spec.config_rule_name, rule_parameters)
    event["resultToken"] = result_token(scratch)
    try:
        response = invoke_rule(sandbox, rule_id, event)
        by_sweep = sandbox.config.evaluations.get(scratch, {})
        found = {key[1]: (value["ComplianceType"], value.get("Annotation", "")) for key, value in by_sweep.items()}
    finally:
        sandbox.config.evaluations.pop(scratch, None)
        sandbox.calls.clear()
        sandbox.calls.update(calls)
        sandbox.config.put_evaluations_calls = puts
    assert resource_id in found, f"the sweep did not evaluate {resource_id} (it answered {response!r})"
    assert found[resource_id] == by_change, f"{resource_id}: the sweep says {found[resource_id]}, the change trigger {by_change}"
