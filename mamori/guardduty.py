"""GuardDuty in every enabled region: is it on, and what would turn it on.

The forgotten-root-key attackers mined crypto in nine regions nobody watched. GuardDuty
reports mining (CryptoCurrency findings) only where it is on, so mamori-guardduty-enabled
asks every enabled region (ListDetectors, then GetDetector until one is ENABLED) and the
remediation and its restore act on the same answer. A region is on when it has an ENABLED
detector; otherwise it has no detector (create one) or a suspended one (enable it).

A refusal in the home region (where the pack runs) is not "a region nobody may use": it is
the pack's own role or an SCP on GuardDuty itself, and nothing checked elsewhere can make
up for it, so it fails like any other error instead of being skipped.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mamori.compliance import ANNOTATION_LIMIT
from mamori.regions import RegionScan, scan_regions

# GuardDuty allows one detector per account and region; a page of 50 is always enough.
DETECTOR_PAGE_SIZE = 50


class GuardDutyUnknown(ValueError):
    """Some region could not say whether GuardDuty is on: decide nothing (rdklib answers a
    ValueError with an error response; a document step fails on it)."""


@dataclass(frozen=True)
class GuardDutyRegion:
    """GuardDuty in one region: its ENABLED detector, or else its suspended one, or none."""

    region: str
    detector_id: str | None
    enabled: bool

    @property
    def problem(self) -> str:
        """What the annotation says for a region where GuardDuty is off."""
        if self.enabled:
            return ""
        return "suspended" if self.detector_id else "no detector"

    def describe(self) -> str:
        if self.enabled:
            return f"{self.region}: detector {self.detector_id} enabled"
        return f"{self.region}: detector {self.detector_id} suspended" if self.detector_id else f"{self.region}: no detector"


def detector_ids(guardduty: Any) -> list[str]:
    ids: list[str] = []
    for page in guardduty.get_paginator("list_detectors").paginate(PaginationConfig={"PageSize": DETECTOR_PAGE_SIZE}):
        ids.extend(str(detector_id) for detector_id in page.get("DetectorIds", []))
    return ids


def region_guardduty(guardduty: Any, region: str) -> GuardDutyRegion:
    """ListDetectors, then GetDetector for each until one is ENABLED."""
    suspended = None
    for detector_id in detector_ids(guardduty):
        if guardduty.get_detector(DetectorId=detector_id).get("Status") == "ENABLED":
            return GuardDutyRegion(region, detector_id, True)
        suspended = suspended or detector_id
    return GuardDutyRegion(region, suspended, False)


def check_answers(scan: RegionScan[Any], home_region: str | None = None) -> None:
    """GuardDutyUnknown unless every region answered or refused, the home region included."""
    problems = dict(scan.failed)
    if home_region in scan.skipped:
        problems[home_region] = (
            f"{scan.skipped[home_region]} in the home region: the role lacks a grant or an SCP denies GuardDuty itself"
        )
    if problems:
        listed = "; ".join(f"{region}: {error}" for region, error in sorted(problems.items()))
        raise GuardDutyUnknown(f"GuardDuty status unknown in {len(problems)} region(s), nothing decided: {listed}")


def guardduty_scan(regions: Iterable[str], home_region: str | None = None) -> RegionScan[GuardDutyRegion]:
    """Every region's GuardDuty, concurrently; GuardDutyUnknown if any region failed or the
    home region refused."""
    scan = scan_regions("guardduty", regions, region_guardduty)
    check_answers(scan, home_region)
    return scan


def regions_off(scan: RegionScan[GuardDutyRegion]) -> list[GuardDutyRegion]:
    return [scan.results[region] for region in sorted(scan.results) if not scan.results[region].enabled]


def shortened(items: list[str], shown: int) -> str:
    """The first `shown` items, then "+N more" for the rest ("N regions" when none is shown)."""
    rest = len(items) - shown
    if not shown:
        return f"{rest} regions"
    return ", ".join(items[:shown] + ([f"+{rest} more"] if rest else []))


def guardduty_annotation(scan: RegionScan[GuardDutyRegion]) -> tuple[bool, str]:
    """(compliant, annotation of at most 256 characters): off anywhere checked is
    NON_COMPLIANT; refused regions are named but decide nothing (an SCP that denies a region
    denies attackers there too)."""
    total = len(scan.results) + len(scan.skipped)
    off = [f"{status.region} ({status.problem})" for status in regions_off(scan)]
    refused = [f"{region} ({code})" for region, code in sorted(scan.skipped.items())]

    def render(off_shown: int, refused_shown: int) -> str:
        if off:
            listed = shortened(off, off_shown)
            text = f"GuardDuty is off in {len(off)} of {total} enabled regions: {listed}; remediation turns it on."
        elif refused:
            text = f"GuardDuty is on in all {len(scan.results)} regions checked of {total} enabled."
        else:
            text = f"GuardDuty is on in all {total} enabled regions."
        if refused:
            text += f" Not checked (refused): {shortened(refused, refused_shown)}."
        return text

    # Name as many regions as fit: refused ones give way first, they decide nothing.
    off_shown, refused_shown = len(off), len(refused)
    text = render(off_shown, refused_shown)
    while len(text) > ANNOTATION_LIMIT and (off_shown or refused_shown):
        if refused_shown:
            refused_shown -= 1
        else:
            off_shown -= 1
        text = render(off_shown, refused_shown)
    return not off, text[:ANNOTATION_LIMIT]


def detector_arn(guardduty: Any, region: str, account: str, detector_id: str) -> str:
    """A detector's ARN (what TagResource and UntagResource take)."""
    return f"arn:{guardduty.meta.partition}:guardduty:{region}:{account}:detector/{detector_id}"
