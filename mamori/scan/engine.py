"""The scan itself: each rule's own Lambda handler (rules/<id>/rule.py, through rdklib, exactly
as the deployed Lambda runs it), invoked with the event AWS Config would send, against the
account the standard credential chain names, through the read-only guard.

* Periodic rules get one scheduled notification, in the home region.
* Configuration-change rules get one change notification per resource, with the
  configuration item built from live Describe calls (mamori.scan.items), in each region scanned.
* Rule parameters default as the template does: the specs are the one source of truth.
* What rdklib would put to AWS Config is kept by the guard instead (mamori.scan.readonly).
"""

import datetime
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from mamori.catalog import Parameter, RuleSpec, load_remediations, load_rules, load_unit_module
from mamori.compliance import NON_COMPLIANT
from mamori.regions import enabled_regions, parse_regions
from mamori.scan.items import ITEM_BUILDERS
from mamori.scan.plan import Context, PlannedChange, dry_run
from mamori.scan.readonly import ReadOnlyGuard, WriteRefused, result_token

ALL_REGIONS = "all"


class ScanError(ValueError):
    """The scan cannot start as asked (a parameter, a region, no credentials); the message says why."""


def pack_parameters() -> dict[str, Parameter]:
    """Every pack parameter a rule or a remediation takes, by name, from the specs."""
    found: dict[str, Parameter] = {}
    for rule in load_rules():
        found.update({parameter.name: parameter for parameter in rule.parameters})
    for remediation in load_remediations():
        found.update({parameter.name: parameter for parameter in remediation.pack_parameters})
    return found


def parameter_values(overrides: Mapping[str, str]) -> dict[str, str]:
    """Each pack parameter's value: --param, else its template default; a required one without
    a value is left out (the rules that take it say so)."""
    known = pack_parameters()
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ScanError(f"unknown parameter(s) {', '.join(unknown)}; the pack takes {', '.join(sorted(known))}")
    values = {name: parameter.default for name, parameter in known.items() if parameter.default is not None}
    values.update(overrides)
    return values


def rule_parameters(rule: RuleSpec, values: Mapping[str, str]) -> dict[str, str]:
    """The InputParameters the template gives the rule: AssumeRoleMode=false, each parameter
    (an optional one only when set)."""
    parameters = {"AssumeRoleMode": "false"}
    for parameter in rule.parameters:
        value = values.get(parameter.name, "")
        if value != "":  # the template leaves an empty optional parameter out; the rule's default is the same
            parameters[parameter.name] = value
    return parameters


def missing_parameters(rule: RuleSpec, values: Mapping[str, str]) -> list[str]:
    return [p.name for p in rule.parameters if p.default is None and not values.get(p.name, "").strip()]


@dataclass(frozen=True)
class Finding:
    rule: str  # the Config rule name, mamori-<id>
    resource_type: str
    resource_id: str
    region: str
    compliance: str
    annotation: str
    plan: PlannedChange | None = None


@dataclass
class RuleRun:
    rule: RuleSpec
    region: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Task:
    """One invocation unit: a rule in a region."""

    rule: RuleSpec
    region: str

    @property
    def label(self) -> str:
        return f"{self.rule.config_rule_name} ({self.region})" if self.rule.regional else self.rule.config_rule_name


@dataclass
class ScanResult:
    account: str
    caller: str
    partition: str
    home_region: str
    regions: list[str]
    parameters: dict[str, str]
    started: datetime.datetime
    runs: list[RuleRun] = field(default_factory=list)
    finished: datetime.datetime | None = None
    planned: bool = False
    guard: ReadOnlyGuard = field(default_factory=ReadOnlyGuard)

    @property
    def findings(self) -> list[Finding]:
        return [finding for run in self.runs for finding in run.findings]

    @property
    def non_compliant(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.compliance == NON_COMPLIANT]

    @property
    def errors(self) -> list[str]:
        return [f"{run.rule.config_rule_name} ({run.region}): {run.error}" for run in self.runs if run.error]

    @property
    def exit_code(self) -> int:
        """1: something is NON_COMPLIANT; 3: nothing is, but a rule could not be evaluated or a
        call was refused (the picture is incomplete); 0: all clear."""
        if self.non_compliant:
            return 1
        if self.errors or self.guard.refused:
            return 3
        return 0


@dataclass
class _Context:
    function_name: str
    aws_request_id: str = "mamori-scan"


class Scanner:
    """Scans one account: tasks() lists the rule invocations, run(task) does one (so a caller
    can show progress), plan() adds the remediations' dry runs."""

    def __init__(
        self,
        profile: str | None = None,
        region: str | None = None,
        regions: str | None = None,
        parameters: Mapping[str, str] | None = None,
        rules: Sequence[str] | None = None,
    ) -> None:
        self.values = parameter_values(parameters or {})
        self.profile = profile
        self.guard = ReadOnlyGuard()
        self._sessions: dict[str, Any] = {}
        home = self.session(region)
        if not home.region_name:
            raise ScanError("no region: pass --region, or set AWS_REGION or a region in your AWS profile")
        self.home_region = str(home.region_name)
        with self.using(self.home_region):
            identity = boto3.client("sts").get_caller_identity()
            self.regions = self._regions(regions)
        arn = str(identity["Arn"])
        self.rules = self._rules(rules)
        self.result = ScanResult(
            account=str(identity["Account"]),
            caller=arn,
            partition=arn.split(":")[1] if arn.count(":") >= 5 else "aws",
            home_region=self.home_region,
            regions=self.regions,
            parameters=dict(self.values),
            started=datetime.datetime.now(datetime.UTC),
            guard=self.guard,
        )

    def session(self, region: str | None) -> Any:
        """A boto3 session per region, each with the guard installed before any client exists."""
        key = region or ""
        if key not in self._sessions:
            session = boto3.Session(profile_name=self.profile, region_name=region)
            self.guard.install(session)
            self._sessions[key] = session
        return self._sessions[key]

    @contextmanager
    def using(self, region: str) -> Iterator[None]:
        """Rule and remediation code makes its clients with boto3.client(): from this region's
        guarded session while inside. AWS_REGION is what rdklib reads, as in Lambda."""
        previous_session, previous_region = boto3.DEFAULT_SESSION, os.environ.get("AWS_REGION")
        boto3.DEFAULT_SESSION = self.session(region)
        os.environ["AWS_REGION"] = region
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = previous_session
            if previous_region is None:
                os.environ.pop("AWS_REGION", None)
            else:
                os.environ["AWS_REGION"] = previous_region

    def _regions(self, regions: str | None) -> list[str]:
        if regions is None or not regions.strip():
            return [self.home_region]
        if regions.strip() == ALL_REGIONS:
            return enabled_regions(boto3.client("ec2"))
        try:
            return list(parse_regions(regions))
        except ValueError as error:
            raise ScanError(f"--regions: {error}") from None

    @staticmethod
    def _rules(wanted: Sequence[str] | None) -> list[RuleSpec]:
        rules = load_rules()
        if not wanted:
            return rules
        known = {rule.id: rule for rule in rules}
        names = [name.removeprefix("mamori-") for name in wanted]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ScanError(f"unknown rule(s) {', '.join(unknown)}; the pack has {', '.join(sorted(known))}")
        return [known[name] for name in names]

    def tasks(self) -> list[Task]:
        """Regional rules in every region scanned; the others once, in the home region (as deployed)."""
        return [Task(rule, region) for rule in self.rules for region in (self.regions if rule.regional else [self.home_region])]

    def run(self, task: Task) -> RuleRun:
        run = RuleRun(task.rule, task.region)
        self.result.runs.append(run)
        missing = missing_parameters(task.rule, self.values)
        if missing:
            run.error = f"not evaluated: {', '.join(missing)} has no default; pass --param {missing[0]}=..."
            return run
        try:
            with self.using(task.region):
                self._invoke(task, run)
        except WriteRefused as error:
            run.error = str(error)
        except Exception as error:  # one rule's failure must not hide the others' results
            run.error = f"{type(error).__name__}: {error}"
        return run

    def _invoke(self, task: Task, run: RuleRun) -> None:
        rule = task.rule
        module = load_unit_module("rule", rule.id, rule.handler.split(".")[0] + ".py")
        handler = getattr(module, rule.handler.split(".")[1])
        parameters = rule_parameters(rule, self.values)
        name = rule.config_rule_name
        before = len(self.guard.evaluations.get(name, []))
        events: Iterable[dict[str, Any]]
        if rule.trigger == "periodic":
            events = [self._event(rule, task.region, self._periodic(), parameters)]
        else:
            events = (self._event(rule, task.region, self._change(item), parameters) for item in self._items(rule, task.region))
        for event in events:
            response = handler(event, _Context(rule.function_name))
            if not isinstance(response, list):  # rdklib answers an error with a dict, and puts nothing
                run.error = _error_text(response)
                return
        for evaluation in self.guard.evaluations.get(name, [])[before:]:
            run.findings.append(
                Finding(
                    rule=name,
                    resource_type=str(evaluation["ComplianceResourceType"]),
                    resource_id=str(evaluation["ComplianceResourceId"]),
                    region=task.region,
                    compliance=str(evaluation["ComplianceType"]),
                    annotation=str(evaluation.get("Annotation", "")),
                )
            )

    def _items(self, rule: RuleSpec, region: str) -> Iterator[dict[str, Any]]:
        for resource_type in rule.resource_types:
            if resource_type not in ITEM_BUILDERS:
                raise ScanError(f"the scan cannot build {resource_type} configuration items yet (mamori/scan/items.py)")
            service, build = ITEM_BUILDERS[resource_type]
            make_client: Any = boto3.client  # typed per service; the service here is data
            yield from build(make_client(service), self.result.account, region, self.result.partition)

    def _periodic(self) -> dict[str, Any]:
        return {
            "awsAccountId": self.result.account,
            "notificationCreationTime": _now(),
            "messageType": "ScheduledNotification",
            "recordVersion": "1.0",
        }

    @staticmethod
    def _change(item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "configurationItemDiff": None,
            "configurationItem": dict(item),
            "notificationCreationTime": _now(),
            "messageType": "ConfigurationItemChangeNotification",
            "recordVersion": "1.3",
        }

    def _event(self, rule: RuleSpec, region: str, invoking: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
        """The event AWS Config sends the rule's Lambda (sam local generate-event config ...)."""
        account, partition = self.result.account, self.result.partition
        serial = sum(self.guard.answered_locally.values()) + 1
        return {
            "invokingEvent": json.dumps(invoking),
            "ruleParameters": json.dumps(dict(parameters)),
            "resultToken": result_token(rule.config_rule_name, serial),
            "eventLeftScope": False,
            "executionRoleArn": f"arn:{partition}:iam::{account}:role/mamori-scan",  # unused: AssumeRoleMode=false
            "configRuleArn": f"arn:{partition}:config:{region}:{account}:config-rule/{rule.config_rule_name}",
            "configRuleName": rule.config_rule_name,
            "configRuleId": rule.config_rule_name,
            "accountId": account,
            "version": "1.0",
        }

    # --- --plan ------------------------------------------------------------------------

    def plan_targets(self) -> list[tuple[int, Finding]]:
        """(index in the findings, finding) of every NON_COMPLIANT resource of the type the
        rule's remediation acts on (Config starts it for no other)."""
        by_name = {rule.config_rule_name: rule for rule in self.rules}
        targets = []
        for index, finding in enumerate(self.result.findings):
            rule = by_name[finding.rule]
            if finding.compliance == NON_COMPLIANT and finding.resource_type == rule.resource_types[0]:
                targets.append((index, finding))
        return targets

    def plan(self, finding: Finding) -> PlannedChange:
        """The remediation's dry run for one finding, in the finding's region; kept on the finding."""
        rule = next(rule for rule in self.rules if rule.config_rule_name == finding.rule)
        context = Context(self.result.account, finding.region, self.result.partition, self.values)
        with self.using(finding.region):
            planned = dry_run(rule, finding.resource_id, context)
        self.result.planned = True
        for run in self.result.runs:
            run.findings = [Finding(**{**vars(item), "plan": planned}) if item is finding else item for item in run.findings]
        return planned

    def finish(self) -> ScanResult:
        self.result.finished = datetime.datetime.now(datetime.UTC)
        return self.result


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error_text(response: Any) -> str:
    if isinstance(response, Mapping):
        return str(response.get("customerErrorMessage") or response.get("internalErrorDetails") or response)
    return str(response)
