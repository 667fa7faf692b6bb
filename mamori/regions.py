"""Regions: which are enabled in the account, which the deployer approved, and asking all of
them the same question at once.

The forgotten-root-key attackers mined crypto in nine regions nobody looked at, where AWS
Config was not recording either. So the region-wide rules do not rely on Config: they ask
every enabled region directly, concurrently (one region after another would take the
network round trips of all of them in turn). A region that refuses to be looked at (an SCP,
a region not opted in) is skipped and said so; any other failure is reported as a failure.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

import concurrent.futures
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from mamori import clients, workers
from mamori.aws_api import error_code

REGION_NAME = r"[a-z]{2}(-[a-z]+)+-\d{1,2}"
# Errors that mean "this region may not be looked at", not "something broke": an SCP
# (UnauthorizedOperation from EC2, AccessDenied/AccessDeniedException elsewhere), a region
# that is not opted in (AuthFailure, OptInRequired), or credentials not valid there.
REGION_REFUSALS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "OptInRequired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }
)
# Throttling and transient errors are retried with backoff before a region counts as failed.
REGIONAL_CLIENT_CONFIG = botocore.config.Config(retries={"mode": "standard", "max_attempts": 8})
# Enough to ask every region at once (there are about 30).
MAX_CONCURRENT_REGIONS = 32

T = TypeVar("T")


def parse_regions(text: str) -> tuple[str, ...]:
    """'us-east-1, eu-west-1' -> ('us-east-1', 'eu-west-1'); ValueError for anything that is
    not a list of region names, or an empty list."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("name at least one region, e.g. us-east-1,eu-west-1")
    bad = [name for name in names if not re.fullmatch(REGION_NAME, name)]
    if bad:
        raise ValueError(f"{', '.join(repr(name) for name in bad)} is not a region name (e.g. us-east-1)")
    return tuple(dict.fromkeys(names))


def enabled_regions(ec2: Any) -> list[str]:
    """The regions enabled in the account (default ones and those opted in to): DescribeRegions
    without AllRegions lists exactly these."""
    return sorted(region["RegionName"] for region in ec2.describe_regions()["Regions"])


@dataclass
class RegionScan(Generic[T]):
    """What each region answered: results, regions that refused (region -> error code), and
    regions that failed otherwise (region -> error)."""

    results: dict[str, T] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def skipped_text(self) -> str:
        return ", ".join(f"{region} ({code})" for region, code in sorted(self.skipped.items()))

    def failed_text(self) -> str:
        return "; ".join(f"{region}: {error}" for region, error in sorted(self.failed.items()))

    def unanswered(self) -> dict[str, str]:
        """Every region without a result, and why: '<code> (refused)', or the failure."""
        return {region: f"{code} (refused)" for region, code in self.skipped.items()} | self.failed


def regional_clients(service: str, regions: Iterable[str]) -> dict[str, Any]:
    # Made one after another: creating clients from one session is not thread-safe, using them is.
    make_client: Any = boto3.client  # typed per service; the service here is a parameter
    return {region: make_client(service, region_name=region, config=REGIONAL_CLIENT_CONFIG) for region in regions}


def scan_regions(
    service: str,
    regions: Iterable[str],
    task: Callable[[Any, str], T],
    max_concurrent: int | None = None,
    reads: clients.Reads = (),
) -> RegionScan[T]:
    """task(client, region) in every region, up to max_concurrent (MAX_CONCURRENT_REGIONS) at a
    time. Each worker builds its region's client itself, from a session of its own, so that no
    region waits for the others' clients before its first request (mamori.clients keeps them
    for the container's next run). `reads`: the answers' members the task reads
    (mamori.clients.regional_client); the others are not parsed."""
    regions = list(dict.fromkeys(regions))
    scan: RegionScan[T] = RegionScan()
    if not regions:
        return scan
    source = clients.origin()  # read here: the default session is not thread-safe

    def in_region(region: str) -> T:
        return task(clients.regional_client(service, region, source, REGIONAL_CLIENT_CONFIG, reads), region)

    limit = max_concurrent or MAX_CONCURRENT_REGIONS  # read at call time: the bench compares with 1
    pool = workers.pool("regions", limit)
    futures = {region: pool.submit(in_region, region) for region in regions}
    concurrent.futures.wait(futures.values())  # no region's work goes on after the scan returns or raises
    for region, future in futures.items():
        try:
            scan.results[region] = future.result()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            code = error_code(error)
            if code in REGION_REFUSALS:
                scan.skipped[region] = code
            else:
                scan.failed[region] = f"{code}: {error}"[:300]
    return scan
