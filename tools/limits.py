"""The size quotas generation checks on every document and template, so that a growing script
fails `make template`, not a deployment; the limits themselves are data in
mamori/service_limits.py (with where AWS states each), checked by tests/test_limits.py."""

import functools
import json
from collections.abc import Mapping
from typing import Any

import botocore.loaders
import yaml

from mamori.service_limits import (  # noqa: F401 - the generator's and the tests' one place to read them
    ANNOTATION_CHARS,
    AUTOMATION_PARAMETER_VALUE_CHARS,
    AUTOMATION_PARAMETER_VALUES,
    CLOUDFORMATION_TEMPLATE_LIMIT,
    EVALUATIONS_PER_PUT,
    IAM_ROLE_NAME_CHARS,
    PARAMETER_VALUE_ADVANCED,
    PARAMETER_VALUE_STANDARD,
    REMEDIATION_PARAMETERS,
    REMEDIATION_STATIC_VALUE_CHARS,
    REMEDIATION_STATIC_VALUES,
    RULE_INPUT_PARAMETERS_CHARS,
    SCP_CHARS,
    SSM_DOCUMENT_LIMIT,
    TEMPLATE_BUDGET,
)


class SizeError(ValueError):
    """A generated document or template is over its quota; the message says by how much."""


def document_size(content: Mapping[str, Any]) -> int:
    """Bytes of the document's content as SSM receives it: CloudFormation passes the Content
    object on as JSON or YAML, so the larger of the two counts."""
    as_json = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    as_yaml = yaml.safe_dump(dict(content), sort_keys=False, allow_unicode=True, width=1_000_000)
    return max(len(as_json.encode()), len(as_yaml.encode()))


def check_document_size(name: str, content: Mapping[str, Any]) -> int:
    size = document_size(content)
    if size > SSM_DOCUMENT_LIMIT:
        raise SizeError(
            f"SSM document {name} is {size:,} bytes, over SSM's document size quota of {SSM_DOCUMENT_LIMIT:,} bytes "
            "(64 KB, CreateDocument): make its script or the mamori modules it imports smaller"
        )
    return size


def check_template_size(name: str, text: str) -> int:
    size = len(text.encode())
    if size > TEMPLATE_BUDGET:
        raise SizeError(
            f"{name} is {size:,} bytes, over mamori's budget of {TEMPLATE_BUDGET:,} bytes (CloudFormation takes at most "
            f"{CLOUDFORMATION_TEMPLATE_LIMIT:,} bytes from S3; 10% is kept free): make the documents' scripts smaller"
        )
    return size


@functools.cache
def commercial_regions() -> tuple[str, ...]:
    """Every region of the aws partition, from botocore's endpoints data."""
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    [partition] = [p for p in endpoints["partitions"] if p["partition"] == "aws"]
    return tuple(sorted(partition["regions"]))


@functools.cache
def every_region() -> tuple[str, ...]:
    """Every region of every partition (commercial, China, GovCloud, ISO, European Sovereign
    Cloud), from botocore's endpoints data: where a member stack could run."""
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    return tuple(sorted(region for partition in endpoints["partitions"] for region in partition["regions"]))


def check_regional_role_name(prefix: str) -> int:
    """A role named <prefix>-<region> (one per region of an account, IAM names being global):
    its length in the region with the longest name."""
    longest = max(every_region(), key=len)
    size = len(f"{prefix}-{longest}")
    if size > IAM_ROLE_NAME_CHARS:
        raise SizeError(
            f"role name {prefix}-{longest} is {size} characters, over IAM's {IAM_ROLE_NAME_CHARS} (CreateRole RoleName)"
        )
    return size
