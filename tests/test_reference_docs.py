"""docs/PERMISSIONS.md and docs/COST.md are what tools/reference_docs.py makes from the specs and
the generated templates now: regenerated here, compared, and checked for what they must say."""

import re

from harness.pack import granted_actions, template
from mamori.catalog import load_rules
from tools import reference_docs


def test_the_reference_pages_are_up_to_date() -> None:
    for path, text in (
        (reference_docs.PERMISSIONS, reference_docs.permissions_markdown()),
        (reference_docs.COST, reference_docs.cost_markdown()),
    ):
        assert path.read_text() == text, f"{path.name} drifted from the pack: run `make docs`"


def test_every_role_and_every_granted_action_is_listed() -> None:
    page = reference_docs.permissions_markdown()
    roles = [logical_id for logical_id, r in template()["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    for role in roles:
        section = page.split(f"#### {role}\n", 1)[1].split("\n#### ", 1)[0]
        for action in granted_actions(role):
            assert f"| `{action}`" in section, f"{role}: {action} is granted but not listed"


def test_the_scan_needs_only_reads_and_the_deploy_names_each_resource_type() -> None:
    reads = reference_docs.scan_reads()
    assert "sts:GetCallerIdentity" in reads and "ec2:DescribeSecurityGroups" in reads
    assert not [a for a in reads if reference_docs._access_level(a) not in ("Read", "List")]
    page = reference_docs.permissions_markdown()
    for kind in ("AWS::Config::ConfigRule", "AWS::SSM::Document", "AWS::Lambda::Function", "AWS::KMS::Key", "AWS::SNS::Topic"):
        assert f"| `{kind}` |" in page
    assert "CAPABILITY_NAMED_IAM" in page and "iam:PassRole" in page


def test_the_cost_page_counts_every_rule_and_spells_out_guardduty() -> None:
    page = reference_docs.cost_markdown()
    for rule in load_rules():
        assert f"| `{rule.config_rule_name}` |" in page
    assert "100 IAM users" in page and "3 regions" in page and "30 days" in page and "after the trial" in page


def test_the_readme_quotes_the_cost_page_total() -> None:
    """README's one-line cost is the cost page's total, rounded to whole dollars (they drifted once)."""
    found = re.search(r"\| \*\*the pack\*\* \| \| \*\*about ([\d.]+)\*\*", reference_docs.cost_markdown())
    assert found, "the cost page has no total"
    total = float(found.group(1))
    readme = (reference_docs.ROOT / "README.md").read_text()
    assert f"What it costs: about {round(total)} USD a month" in readme
