"""mamori-unapproved-regions: no EC2 instance may run in a region outside ApprovedRegions.

The forgotten-root-key incident: attackers mined crypto in nine regions nobody watched, where
AWS Config was not recording either. So this rule does not rely on Config's inventory: it
asks every enabled region outside ApprovedRegions directly, all at once (mamori.regions),
one DescribeInstances call per 1,000 instances. Approved regions are not asked and their
instances not evaluated: Config bills every evaluation, and an hourly COMPLIANT for each of
them would cost money and say nothing.

Each instance found is evaluated (running or pending: NON_COMPLIANT; stopped: COMPLIANT;
mamori:exempt: NOT_APPLICABLE), and one AWS::::Account evaluation summarises the scan. A
region that refuses to be looked at (an SCP, not opted in) is skipped and said so, and its
earlier findings are kept as they were; any other regional failure fails the evaluation,
because a partial picture would mark the unseen instances NOT_APPLICABLE.

The rule reads its earlier results from Config while the regions are scanned (not after, as
rdklib's clean-up would): they name the instances gone since (NOT_APPLICABLE now) and the
findings a refused region keeps. Each region's client is built in its own worker.
"""

import collections
import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule, rule_runtime, workers
from mamori.instances import DESCRIBE_INSTANCES_READS, INSTANCE_RESOURCE_TYPE, Instance, decide, list_instances
from mamori.regions import enabled_regions, parse_regions, scan_regions

ACCOUNT_RESOURCE_TYPE = "AWS::::Account"
# What the rule adds to an earlier finding it could not check again; replaced, never stacked.
NOT_RECHECKED = re.compile(r" \(not re-checked: [^()]*\)$")


def earlier_findings(results: Sequence[Mapping[str, Any]], refused: Mapping[str, str]) -> list[Evaluation]:
    """Among this rule's earlier results (rule_runtime.earlier_results), the instance findings
    in the refused regions (their annotations start with '<region>: '), again, saying they
    were not re-checked: without them the clean-up would mark those instances NOT_APPLICABLE unseen."""
    kept = []
    for result in results:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        annotation = result.get("Annotation", "")
        region = annotation.split(": ", 1)[0]
        if qualifier["ResourceType"] != INSTANCE_RESOURCE_TYPE or region not in refused:
            continue
        note = f" (not re-checked: {region} refused, {refused[region]})"
        base = NOT_RECHECKED.sub("", annotation)
        kept.append(
            Evaluation(
                getattr(ComplianceType, result["ComplianceType"]),
                qualifier["ResourceId"],
                INSTANCE_RESOURCE_TYPE,
                base[: 256 - len(note)] + note,
            )
        )
    return kept


def instance_evaluations(
    instances: Sequence[Instance], approved: Sequence[str], today: datetime.date, max_exemption_days: int
) -> list[Evaluation]:
    """The evaluation of each instance (mamori.instances.decide) outside the approved regions."""
    evaluations = []
    for instance in instances:
        finding = decide(instance, approved, today, max_exemption_days)
        if finding is not None:  # None: an approved region's, which is not scanned
            evaluations.append(
                Evaluation(
                    getattr(ComplianceType, finding.compliance),
                    instance.instance_id,
                    INSTANCE_RESOURCE_TYPE,
                    config_rule.with_note(finding.annotation, finding.note),
                )
            )
    return evaluations


def _per_region(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{region}: {count}" for region, count in sorted(counts.items()))


def _instances(count: int) -> str:
    return f"{count} instance" if count == 1 else f"{count} instances"


def account_annotation(
    enabled: int, to_scan: int, running: Mapping[str, int], refused: Mapping[str, str], kept_running: int
) -> str:
    """'Scanned 15 of 16 enabled regions outside ApprovedRegions: 3 instances running
    (ap-south-1: 1, eu-west-3: 2); skipped me-south-1 (AuthFailure).' Per-region detail gives
    way to counts when it would not fit in Config's 256 characters."""
    if to_scan == 0:
        return f"All {enabled} enabled regions are in ApprovedRegions; nothing to scan."
    total = sum(running.values())
    text = ""
    for detailed in (True, False):
        where = _per_region(running) if detailed else f"in {len(running)} regions"
        text = f"Scanned {to_scan - len(refused)} of {to_scan} enabled regions outside ApprovedRegions: " + (
            f"{_instances(total)} running ({where})" if total else "no instance running"
        )
        if refused:
            if detailed:
                skipped = ", ".join(f"{region} ({code})" for region, code in sorted(refused.items()))
            else:
                skipped = f"{len(refused)} regions ({', '.join(sorted(set(refused.values())))})"
            text += f"; skipped {skipped}"
        if kept_running:
            text += f"; {_instances(kept_running)} found running there earlier, not re-checked"
        text += "."
        if len(text) <= 256:
            return text
    return text[:255] + "…"


class UnapprovedRegions(ConfigRule):  # type: ignore[misc]
    # The rule cleans up after itself, from the results it reads alongside the scan.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"ApprovedRegions", config_rule.MAX_EXEMPTION_DAYS})
        # Required: no default region list could be right for every deployer.
        return {
            "ApprovedRegions": config_rule.parse_parameter(rule_parameters, "ApprovedRegions", "", parse_regions),
            config_rule.MAX_EXEMPTION_DAYS: config_rule.max_exemption_days(rule_parameters),
        }

    def evaluate_periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]
    ) -> list[Evaluation]:
        approved = valid_rule_parameters["ApprovedRegions"]
        config = client_factory.build_client("config")
        earlier = workers.pool("earlier-results", 1).submit(rule_runtime.earlier_results, config, event["configRuleName"])
        enabled = enabled_regions(client_factory.build_client("ec2"))
        to_scan = [region for region in enabled if region not in approved]
        today, max_days = config_rule.today(), valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS]

        def evaluate_region(ec2: Any, region: str) -> list[Evaluation]:
            # In the region's worker, as its answer arrives: the decisions need no other region's.
            return instance_evaluations(list_instances(ec2, region), approved, today, max_days)

        scan = scan_regions("ec2", to_scan, evaluate_region, reads=DESCRIBE_INSTANCES_READS)
        if scan.failed:
            # rdklib answers a ValueError with an error response and puts nothing: the next run tries again.
            raise ValueError(f"mamori-unapproved-regions evaluated nothing: scanning failed in {scan.failed_text()}")
        results = earlier.result()

        evaluations = [evaluation for region in sorted(scan.results) for evaluation in scan.results[region]]
        running = collections.Counter(
            region
            for region in scan.results
            for evaluation in scan.results[region]
            if evaluation.complianceType == ComplianceType.NON_COMPLIANT
        )
        kept = earlier_findings(results, scan.skipped)
        kept_running = sum(1 for evaluation in kept if evaluation.complianceType == ComplianceType.NON_COMPLIANT)
        compliance = ComplianceType.NON_COMPLIANT if running or kept_running else ComplianceType.COMPLIANT
        summary = account_annotation(len(enabled), len(to_scan), running, scan.skipped, kept_running)
        latest = [*evaluations, *kept, Evaluation(compliance, config_rule.account_id(event), ACCOUNT_RESOURCE_TYPE, summary)]
        return latest + rule_runtime.not_reported(results, {evaluation.complianceResourceId for evaluation in latest})


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(UnapprovedRegions(), [INSTANCE_RESOURCE_TYPE, ACCOUNT_RESOURCE_TYPE]), event, context)
