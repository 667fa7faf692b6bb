"""The `mamori` console command (pyproject.toml [project.scripts]); `mamori scan` is its one
subcommand today. Terminal output uses rich: a progress bar while the rules run (on stderr,
so reports piped from stdout stay clean), then a table per rule."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import botocore.exceptions
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mamori.compliance import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE
from mamori.scan.engine import Finding, RuleRun, ScanError, Scanner, ScanResult
from mamori.scan.reports import FORMATS, write_reports

DEFAULT_OUT_DIR = "mamori-scan-reports"
# More rows than this of one rule that are not NON_COMPLIANT are counted, not listed (the reports list them all).
MAX_QUIET_ROWS = 25
STYLE = {NON_COMPLIANT: "bold red", COMPLIANT: "green", NOT_APPLICABLE: "dim"}

SCAN_HELP = """\
Run every mamori rule's own evaluation code, read-only, against the account your AWS
credentials name (the standard chain: --profile, AWS_PROFILE, environment, SSO...). Nothing is
deployed, nothing is sent to AWS Config, nothing is changed: a guard refuses every call that is
not a read (Describe*, Get*, List*, iam:GenerateCredentialReport) before it leaves the machine.

Exit code: 0 all clear; 1 something is NON_COMPLIANT; 3 nothing is, but a rule could not be
evaluated; 2 bad usage or no credentials.

The identity needs read access: the AWS managed policy ReadOnlyAccess covers every call
(docs/PERMISSIONS.md lists them).
"""

EXAMPLES = """\
examples:
  mamori scan --param ApprovedRegions=us-east-1,eu-west-1
  mamori scan --profile audit --region eu-west-1 --regions all --plan --output json --output ocsf --html
  mamori scan --rule open-proxy-ports --regions us-east-1,ap-southeast-1 --output csv
"""


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not Name=value")
    return name.strip(), value


def _formats(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    bad = [part for part in chosen if part not in FORMATS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(FORMATS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="mamori",
        description="mamori: AWS Config rules with paired remediations. `mamori scan --help` for the read-only scan.",
    )
    commands = top.add_subparsers(dest="command", metavar="command")
    scan = commands.add_parser(
        "scan",
        help="run every rule read-only against your account and report",
        description=SCAN_HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    scan.add_argument("--region", help="home region: where the account-wide rules run (default: your profile's region)")
    scan.add_argument(
        "--regions",
        metavar="all|LIST",
        help="regions of the regional rules (security groups): 'all' enabled regions, or e.g. us-east-1,eu-west-1 "
        "(default: the home region)",
    )
    scan.add_argument(
        "--param",
        action="append",
        type=_parameter,
        default=[],
        metavar="Name=value",
        help="a pack parameter, as for sam deploy (repeat; default: the template's defaults), e.g. ApprovedRegions=us-east-1",
    )
    scan.add_argument("--rule", action="append", default=[], metavar="ID", help="only this rule (repeat; default: every rule)")
    scan.add_argument(
        "--plan", action="store_true", help="for each NON_COMPLIANT resource, what its remediation would change (its dry run)"
    )
    scan.add_argument(
        "--output",
        action="append",
        type=_formats,
        default=[],
        metavar="json|csv|ocsf",
        help="write a report in this format (repeat or comma-separate); ocsf: OCSF Compliance Findings",
    )
    scan.add_argument("--html", action="store_true", help="write one self-contained HTML page")
    scan.add_argument("--out-dir", default=DEFAULT_OUT_DIR, type=Path, help=f"where reports go (default: ./{DEFAULT_OUT_DIR})")
    return top


def rule_table(run: RuleRun, planned: bool) -> Table:
    table = Table(title=run.rule.config_rule_name + (f" ({run.region})" if run.rule.regional else ""), title_justify="left")
    table.add_column("Resource", overflow="fold", no_wrap=False)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Annotation", overflow="fold", ratio=3)
    if planned:
        table.add_column("Plan (dry run)", overflow="fold", ratio=2)
    ordered = sorted(run.findings, key=lambda f: ({NON_COMPLIANT: 0, COMPLIANT: 1}.get(f.compliance, 2), f.resource_id))
    quiet = [f for f in ordered if f.compliance != NON_COMPLIANT]
    shown = ordered if len(quiet) <= MAX_QUIET_ROWS else [f for f in ordered if f.compliance == NON_COMPLIANT]
    for finding in shown:
        table.add_row(*_cells(finding, planned))
    if len(shown) < len(ordered):
        counted = ", ".join(f"{sum(1 for f in quiet if f.compliance == kind)} {kind}" for kind in (COMPLIANT, NOT_APPLICABLE))
        table.add_row("…", "", f"and {counted} (listed in the reports)", *([""] if planned else []))
    if not run.findings and not run.error:
        table.add_row("(none)", "", "nothing of this kind to evaluate", *([""] if planned else []))
    if run.error:
        table.add_row("(not evaluated)", "[bold red]ERROR[/]", run.error, *([""] if planned else []))
    return table


def _cells(finding: Finding, planned: bool) -> list[str]:
    resource = finding.resource_id + (f"\n[dim]{finding.resource_type}[/]" if "::Account" not in finding.resource_type else "")
    cells = [resource, f"[{STYLE.get(finding.compliance, '')}]{finding.compliance}[/]", finding.annotation]
    if planned:
        cells.append(finding.plan.summary if finding.plan else "")
    return cells


def summary(result: ScanResult) -> str:
    findings = result.findings
    counts = ", ".join(
        f"{sum(1 for f in findings if f.compliance == kind)} {kind}" for kind in (NON_COMPLIANT, COMPLIANT, NOT_APPLICABLE)
    )
    refused = len(result.guard.refused)
    return (
        f"{counts}; {len(result.errors)} rule(s) not evaluated. "
        f"{sum(result.guard.sent.values())} AWS calls, all reads; {refused} refused; nothing sent to AWS Config."
    )


def run_scan(args: argparse.Namespace, console: Console, progress_console: Console) -> int:
    try:
        scanner = Scanner(
            profile=args.profile, region=args.region, regions=args.regions, parameters=dict(args.param), rules=args.rule
        )
    except ScanError as error:
        console.print(f"[bold red]mamori scan:[/] {error}")
        return 2
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        console.print(
            f"[bold red]mamori scan: cannot reach AWS as anyone:[/] {error}\n"
            "Check your credentials first: `aws sts get-caller-identity` (with --profile if you use one)."
        )
        return 2
    result = scanner.result
    console.print(
        f"mamori scan of account [bold]{result.account}[/] as {result.caller}, home region {result.home_region}, "
        f"regional rules in {', '.join(result.regions)}. Read-only: nothing is sent to AWS Config or changed."
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_console, transient=True) as progress:
        tasks = scanner.tasks()
        bar = progress.add_task("evaluating", total=len(tasks))
        for task in tasks:
            progress.update(bar, description=f"evaluating {task.label}")
            scanner.run(task)
            progress.advance(bar)
        if args.plan:
            targets = scanner.plan_targets()
            plans = progress.add_task("planning", total=len(targets))
            for _, finding in targets:
                progress.update(plans, description=f"dry run for {finding.resource_id}")
                scanner.plan(finding)
                progress.advance(plans)
    result = scanner.finish()
    for run in result.runs:
        console.print(rule_table(run, result.planned))
    console.print(summary(result))
    formats = [kind for chosen in args.output for kind in chosen] + (["html"] if args.html else [])
    if formats:
        for path in write_reports(result, list(dict.fromkeys(formats)), args.out_dir):
            console.print(f"wrote {path}")
    if result.guard.refused:
        console.print(f"[bold red]refused (not sent):[/] {', '.join(result.guard.refused)}")
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "scan":
        parser().print_help()
        return 2
    return run_scan(args, Console(), Console(stderr=True))


if __name__ == "__main__":
    sys.exit(main())
