"""Write the generated templates, or check that the committed ones are current.

    python tools/build_template.py           # write template.yaml, member-template.yaml, org-template.yaml
    python tools/build_template.py --check   # fail if any differs from its sources

The generator itself is tools/generate.py (one build of the pack, then the member and
organization templates made from it).
"""

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.generate import REFUSED, generate  # noqa: E402


def drifted(texts: dict[Path, str]) -> list[str]:
    """Names of the files whose committed text differs from the generated one; prints the diffs."""
    found = []
    for path, text in texts.items():
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), path.name, "generated", lineterm="")
            print("\n".join(list(diff)[:60]))
            print(f"{path.name} has drifted from its sources: run `make template` and commit it.", file=sys.stderr)
            found.append(path.name)
        else:
            print(f"{path.name} matches its sources.")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if any template differs from its sources")
    args = parser.parse_args(argv)
    try:
        texts = generate().texts
    except REFUSED as error:
        # What SSM or CloudFormation would refuse at deployment: say it now, plainly.
        print(f"make template: {error}", file=sys.stderr)
        return 1
    if args.check:
        return 1 if drifted(texts) else 0
    for path, text in texts.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
