"""Resolving customer-managed prefix lists to the CIDRs they hold (shared by rule and remediation)."""

from collections.abc import Sequence

import botocore.exceptions


def resolve_customer_prefix_lists(ec2: object, prefix_list_ids: Sequence[str]) -> dict[str, list[str]]:
    """{pl-id: [cidr, …]} for the customer-managed lists among prefix_list_ids.

    AWS-managed lists (owner "AWS": S3, DynamoDB, CloudFront origin-facing…) hold AWS
    service ranges and are left out; so are lists that no longer exist. One
    DescribeManagedPrefixLists call per 100 lists, then one GetManagedPrefixListEntries page per list.
    """
    ids = sorted(set(prefix_list_ids))
    if not ids:
        return {}
    try:
        # Pages of 100 (PrefixListMaxResults, 1 to 100): one call for up to 100 lists.
        pages = ec2.get_paginator("describe_managed_prefix_lists").paginate(  # type: ignore[attr-defined]
            PrefixListIds=ids, PaginationConfig={"PageSize": 100}
        )
        described = [prefix_list for page in pages for prefix_list in page["PrefixLists"]]
    except botocore.exceptions.ClientError as error:
        if "NotFound" not in error.response["Error"]["Code"] or len(ids) == 1:
            if "NotFound" in error.response["Error"]["Code"]:
                return {}
            raise
        # One id is gone: look the others up one by one.
        resolved: dict[str, list[str]] = {}
        for pl_id in ids:
            resolved.update(resolve_customer_prefix_lists(ec2, [pl_id]))
        return resolved
    resolved = {}
    for prefix_list in described:
        if prefix_list.get("OwnerId") == "AWS":
            continue
        pl_id = prefix_list["PrefixListId"]
        paginator = ec2.get_paginator("get_managed_prefix_list_entries")  # type: ignore[attr-defined]
        resolved[pl_id] = [entry["Cidr"] for page in paginator.paginate(PrefixListId=pl_id) for entry in page.get("Entries", [])]
    return resolved
