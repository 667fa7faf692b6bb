"""The size quotas generation must stay under, checked on every document and template so that a
growing script fails `make template`, not a deployment.

* An SSM document: "The content of the document must not exceed 64KB. This quota also includes
  the content specified for input parameters at runtime." (AWS Systems Manager API Reference,
  CreateDocument, Content; the error is MaxDocumentSizeExceeded, "The size limit of a document
  is 64 KB"). The generated Script is most of each document, so this is what grows.
* A template: "Template body size in an Amazon S3 object ... 1 MB" (AWS CloudFormation User
  Guide, CloudFormation quotas). SAM uploads template.yaml and org-template.yaml to S3 and the
  StackSet reads member-template.yaml from S3; the service counts 1,000,000 bytes. Generation
  keeps 10% of it free, for the SAM transform and the parameters it adds.
"""

import json
from collections.abc import Mapping
from typing import Any

import yaml

SSM_DOCUMENT_LIMIT = 64 * 1024
CLOUDFORMATION_TEMPLATE_LIMIT = 1_000_000
TEMPLATE_BUDGET = 900_000  # 10% headroom under CLOUDFORMATION_TEMPLATE_LIMIT


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
