"""The scan's reports: JSON (everything), CSV (one row per evaluation), OCSF (one Compliance
Finding per evaluation, the schema AWS Security Hub also speaks) and one self-contained HTML
page a person can open or mail.

OCSF: Compliance Finding, class_uid 2003 in the Findings category (2), schema 1.1.0
(ocsf/ocsf-schema: events/findings/compliance_finding.json, finding.json, base_event.json,
objects/compliance.json). type_uid = class_uid * 100 + activity_id (1, Create).
"""

import csv
import html
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mamori.compliance import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE
from mamori.scan.engine import Finding, ScanResult

FORMATS = ("json", "csv", "ocsf")
OCSF_VERSION = "1.1.0"
PRODUCT = {"name": "mamori scan", "vendor_name": "mamori", "version": "0.1.0"}
COMPLIANCE_FINDING = 2003
FINDINGS_CATEGORY = 2
ACTIVITY_CREATE = 1
# OCSF compliance.status_id: 1 Pass, 3 Fail, 99 Other (NOT_APPLICABLE is neither).
OCSF_STATUS = {COMPLIANT: (1, "Pass"), NON_COMPLIANT: (3, "Fail"), NOT_APPLICABLE: (99, "Not applicable")}
# OCSF severity_id: 1 Informational, 4 High.
OCSF_SEVERITY = {NON_COMPLIANT: (4, "High")}
CSV_COLUMNS = ("rule", "resource_type", "resource_id", "region", "compliance", "annotation", "plan_status", "plan")


def _epoch_ms(result: ScanResult) -> int:
    return int((result.finished or result.started).timestamp() * 1000)


def finding_dict(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": finding.rule,
        "resource_type": finding.resource_type,
        "resource_id": finding.resource_id,
        "region": finding.region,
        "compliance": finding.compliance,
        "annotation": finding.annotation,
    }
    if finding.plan is not None:
        data["plan"] = {
            "document": finding.plan.document,
            "status": finding.plan.status,
            "summary": finding.plan.summary,
            "message": finding.plan.message,
            "changes": list(finding.plan.changes),
            "outputs": finding.plan.outputs,
        }
    return data


def to_json(result: ScanResult) -> str:
    counts = {kind: sum(1 for f in result.findings if f.compliance == kind) for kind in OCSF_STATUS}
    return json.dumps(
        {
            "tool": "mamori scan",
            "account": result.account,
            "caller": result.caller,
            "home_region": result.home_region,
            "regions": result.regions,
            "started": result.started.isoformat(),
            "finished": result.finished.isoformat() if result.finished else None,
            "parameters": result.parameters,
            "summary": {**counts, "errors": len(result.errors), "exit_code": result.exit_code},
            "errors": result.errors,
            "api_calls": dict(sorted(result.guard.sent.items())),
            "refused_calls": result.guard.refused,
            "findings": [finding_dict(finding) for finding in result.findings],
        },
        indent=2,
        default=str,
    )


def to_csv(result: ScanResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for finding in result.findings:
        plan = finding.plan
        writer.writerow(
            [
                finding.rule,
                finding.resource_type,
                finding.resource_id,
                finding.region,
                finding.compliance,
                finding.annotation,
                plan.status if plan else "",
                plan.summary if plan else "",
            ]
        )
    return out.getvalue()


def ocsf_finding(result: ScanResult, finding: Finding) -> dict[str, Any]:
    status_id, status = OCSF_STATUS.get(finding.compliance, (0, "Unknown"))
    severity_id, severity = OCSF_SEVERITY.get(finding.compliance, (1, "Informational"))
    time = _epoch_ms(result)
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": COMPLIANCE_FINDING,
        "class_name": "Compliance Finding",
        "type_uid": COMPLIANCE_FINDING * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "time": time,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "message": finding.annotation or f"{finding.compliance}: {finding.resource_id}",
        "metadata": {"version": OCSF_VERSION, "product": PRODUCT, "event_code": finding.rule},
        "finding_info": {
            "uid": f"{result.account}/{finding.region}/{finding.rule}/{finding.resource_type}/{finding.resource_id}",
            "title": f"{finding.rule}: {finding.resource_id} is {finding.compliance}",
            "desc": finding.annotation,
            "types": ["AWS Config custom rule (mamori)"],
            "created_time": time,
        },
        "compliance": {
            "control": finding.rule,
            "standards": ["mamori"],
            "status_id": status_id,
            "status": status,
            "status_code": finding.compliance,
            "status_detail": finding.annotation,
        },
        "cloud": {"provider": "AWS", "region": finding.region, "account": {"uid": result.account, "type_id": 10}},
        "resources": [
            {
                "uid": finding.resource_id,
                "type": finding.resource_type,
                "region": finding.region,
                "cloud_partition": result.partition,
            }
        ],
    }
    if finding.plan is not None:
        event["remediation"] = {"desc": f"{finding.plan.document or 'no remediation'}: {finding.plan.summary}"}
    return event


def to_ocsf(result: ScanResult) -> str:
    return json.dumps([ocsf_finding(result, finding) for finding in result.findings], indent=2)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ccc;padding:.35em .5em;
text-align:left;vertical-align:top}th{background:#f2f2f2}
.NON_COMPLIANT{color:#a30000;font-weight:600}.COMPLIANT{color:#166b1a}.NOT_APPLICABLE{color:#666}
.summary td{border:none;padding:.15em 1em .15em 0}.error{color:#a30000}code{font-size:.95em}
"""


def to_html(result: ScanResult) -> str:
    """One page, no external resources (styles inline), every value escaped."""
    e = html.escape
    counts = {kind: sum(1 for f in result.findings if f.compliance == kind) for kind in OCSF_STATUS}
    rows = [
        f"<h1>mamori scan: account {e(result.account)}</h1>",
        '<table class="summary">',
        f"<tr><td>Scanned as</td><td><code>{e(result.caller)}</code></td></tr>",
        f"<tr><td>Home region</td><td>{e(result.home_region)}; regional rules in {e(', '.join(result.regions))}</td></tr>",
        f"<tr><td>When</td><td>{e(result.started.strftime('%Y-%m-%d %H:%M:%S UTC'))}</td></tr>",
        f'<tr><td>Result</td><td><span class="NON_COMPLIANT">{counts[NON_COMPLIANT]} NON_COMPLIANT</span>, '
        f"{counts[COMPLIANT]} COMPLIANT, {counts[NOT_APPLICABLE]} NOT_APPLICABLE, {len(result.errors)} error(s)</td></tr>",
        f"<tr><td>AWS calls</td><td>{sum(result.guard.sent.values())} reads, {len(result.guard.refused)} refused; "
        "nothing was sent to AWS Config and nothing was changed</td></tr>",
        "</table>",
    ]
    for error in result.errors:
        rows.append(f'<p class="error">Not evaluated: {e(error)}</p>')
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule, findings in by_rule.items():
        rows.append(f"<h2>{e(rule)}</h2><table><tr><th>Resource</th><th>Region</th><th>Compliance</th><th>Annotation</th>")
        rows[-1] += "<th>Plan</th></tr>" if result.planned else "</tr>"
        for finding in sorted(findings, key=_order):
            cells = [
                f"<td><code>{e(finding.resource_id)}</code><br><small>{e(finding.resource_type)}</small></td>",
                f"<td>{e(finding.region)}</td>",
                f'<td class="{e(finding.compliance)}">{e(finding.compliance)}</td>',
                f"<td>{e(finding.annotation)}</td>",
            ]
            if result.planned:
                cells.append(f"<td>{e(finding.plan.summary) if finding.plan else ''}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        rows.append("</table>")
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>mamori scan {e(result.account)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _order(finding: Finding) -> tuple[int, str]:
    return ({NON_COMPLIANT: 0, COMPLIANT: 1}.get(finding.compliance, 2), finding.resource_id)


WRITERS: dict[str, tuple[str, Callable[[ScanResult], str]]] = {
    "json": (".json", to_json),
    "csv": (".csv", to_csv),
    "ocsf": (".ocsf.json", to_ocsf),
    "html": (".html", to_html),
}


def write_reports(result: ScanResult, formats: list[str], directory: Path) -> list[Path]:
    """Write each report as <directory>/mamori-scan-<account>-<UTC time><ext>; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = result.started.strftime("%Y%m%dT%H%M%SZ")
    written = []
    for kind in formats:
        extension, render = WRITERS[kind]
        path = directory / f"mamori-scan-{result.account}-{stamp}{extension}"
        path.write_text(render(result), encoding="utf-8")
        written.append(path)
    return written
