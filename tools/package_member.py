"""Package the member stacks' code for the organization StackSet (`make org-artifacts`).

    python tools/package_member.py --regions us-east-1,eu-west-1
        zip, then print the `aws s3 cp` commands
    python tools/package_member.py --regions us-east-1,eu-west-1 --bucket-prefix mamori-artifacts-111122223333
        zip and upload (s3:PutObject only)

After `sam build` (.aws-sam/build/<LogicalId>/ per function and layer), each function's and
layer's folder is zipped deterministically into .aws-sam/member/<LogicalId>.zip. The prefix is a
hash of the zips and the two templates, so a new build never overwrites code a running stack
uses, and the StackSets update exactly when something changed. Every target region's bucket
<bucket-prefix>-<region> gets <prefix>/<LogicalId>.zip, <prefix>/abuse-event-forwarder.yaml (the
mamori-health-forwarder StackSet's template) and <prefix>/member-template.yaml, because Lambda
reads code only from a bucket in the function's own region.
"""

import argparse
import hashlib
import io
import json
import re
import shlex
import stat
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.generate import MEMBER_TEMPLATE, generate  # noqa: E402
from tools.member_template import ARTIFACT_BUCKET  # noqa: E402

BUILD_DIR = ROOT / ".aws-sam" / "build"
OUT_DIR = ROOT / ".aws-sam" / "member"
MEMBER_TEMPLATE_NAME = "member-template.yaml"
FORWARDER_TEMPLATE = ROOT / "template" / "abuse-event-forwarder.yaml"
FORWARDER_TEMPLATE_NAME = FORWARDER_TEMPLATE.name
MANIFEST_NAME = "manifest.json"
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# The earliest time a zip entry can hold: no build machine's clock or checkout time gets in.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED = ("__pycache__",)  # bytecode embeds source mtimes; Lambda compiles on import anyway
PREFIX_LENGTH = 16  # hex digits of the content hash (template/org.yaml admits 12-64)


@dataclass(frozen=True)
class Package:
    prefix: str
    files: dict[str, bytes]  # name under the prefix -> content; the templates come last, the member template last of all

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"


def zip_folder(folder: Path) -> bytes:
    """The folder's files, sorted, with fixed times and modes: the same bytes for the same content."""
    files = sorted(
        (path.relative_to(folder).as_posix(), path)
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(".pyc") and not set(path.relative_to(folder).parts) & set(SKIPPED)
    )
    if not files:
        raise ValueError(f"{folder} holds no files: run `sam build` first")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that Lambda reads the modes below
            executable = path.stat().st_mode & 0o111
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def artifact_ids(member: dict[str, Any]) -> list[str]:
    """Logical ids of the member template's functions and layers, each checked to read its code
    from <prefix>/<LogicalId>.zip in the region's artifact bucket."""
    found = []
    for logical_id, resource in member["Resources"].items():
        location_key = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}.get(resource["Type"])
        if location_key is None:
            continue
        location = resource["Properties"][location_key]
        expected = {"S3Bucket": ARTIFACT_BUCKET, "S3Key": {"Fn::Sub": f"${{ArtifactPrefix}}/{logical_id}.zip"}}
        if location != expected:
            raise ValueError(f"{logical_id} reads its code from {location}, not {expected}")
        found.append(logical_id)
    return found


def content_prefix(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:PREFIX_LENGTH]


def package(build_dir: Path = BUILD_DIR, out_dir: Path = OUT_DIR) -> Package:
    """Zip every artifact the member template names, write them, the member template and a
    manifest to out_dir, and name the build by its content."""
    generated = generate()
    # sam build read template.yaml: the code and the member template must come from the same sources.
    for path, text in generated.texts.items():
        if not path.exists() or path.read_text() != text:
            raise SystemExit(f"{path.name} has drifted from its sources: run `make template` first.")
    template_text = MEMBER_TEMPLATE.read_text()
    files: dict[str, bytes] = {}
    for logical_id in artifact_ids(generated.member):
        folder = build_dir / logical_id
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: run `sam build` (make build) first.")
        files[f"{logical_id}.zip"] = zip_folder(folder)
    files[FORWARDER_TEMPLATE_NAME] = FORWARDER_TEMPLATE.read_bytes()
    files[MEMBER_TEMPLATE_NAME] = template_text.encode()
    built = Package(content_prefix(files), files)

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [
        *out_dir.glob("*.zip"),
        out_dir / FORWARDER_TEMPLATE_NAME,
        out_dir / MEMBER_TEMPLATE_NAME,
        out_dir / MANIFEST_NAME,
    ]:
        stale.unlink(missing_ok=True)
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    manifest = {"prefix": built.prefix, "sha256": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built


def bucket_name(bucket_prefix: str, region: str) -> str:
    return f"{bucket_prefix}-{region}"


def copy_commands(built: Package, out_dir: Path, bucket_prefix: str, regions: list[str]) -> list[str]:
    return [
        f"aws s3 cp {shlex.quote(str(out_dir / name))} "
        f"s3://{bucket_name(bucket_prefix, region)}/{built.key(name)} --region {region}"
        for region in regions
        for name in built.files
    ]


def upload(built: Package, bucket_prefix: str, regions: list[str], client: Callable[..., Any] = boto3.client) -> list[str]:
    """Put every file into each region's bucket, the member template last so that it is never
    readable before its code. ExpectedBucketOwner: a bucket of that name owned by anyone else
    (say, one squatted in a region the organization has no bucket in) is refused, not filled."""
    account = client("sts").get_caller_identity()["Account"]
    written = []
    for region in regions:
        s3 = client("s3", region_name=region)
        bucket = bucket_name(bucket_prefix, region)
        for name, content in built.files.items():
            s3.put_object(
                Bucket=bucket,
                Key=built.key(name),
                Body=content,
                ContentType="application/zip" if name.endswith(".zip") else "text/yaml",
                ExpectedBucketOwner=account,
            )
            written.append(f"s3://{bucket}/{built.key(name)}")
    return written


def template_url(built: Package, bucket_prefix: str, region: str) -> str:
    return f"https://{bucket_name(bucket_prefix, region)}.s3.{region}.amazonaws.com/{built.key(MEMBER_TEMPLATE_NAME)}"


def regions_argument(text: str) -> list[str]:
    regions = [region.strip() for region in text.split(",") if region.strip()]
    bad = [region for region in regions if not REGION.match(region)]
    if not regions or bad:
        raise argparse.ArgumentTypeError(f"expected comma-separated region names, got {text!r}")
    return list(dict.fromkeys(regions))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", required=True, type=regions_argument, help="the StackSet's target regions, comma-separated")
    parser.add_argument("--bucket-prefix", help="upload to <bucket-prefix>-<region> (template/org-artifacts.yaml's buckets)")
    parser.add_argument("--dry-run", action="store_true", help="with --bucket-prefix: print the commands, upload nothing")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="sam build's output (default .aws-sam/build)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the zips go (default .aws-sam/member)")
    args = parser.parse_args(argv)

    built = package(args.build_dir, args.out)
    sizes = ", ".join(f"{name} {len(content) / 1024:.0f} KiB" for name, content in built.files.items())
    print(f"packaged {len(built.files)} files into {args.out}: {sizes}")
    if args.bucket_prefix and not args.dry_run:
        for uri in upload(built, args.bucket_prefix, args.regions):
            print(f"uploaded {uri}")
    else:
        print("\n".join(copy_commands(built, args.out, args.bucket_prefix or "${BUCKET_PREFIX}", args.regions)))
    print(f"\nArtifactPrefix={built.prefix}")
    if args.bucket_prefix:
        for region in args.regions:
            print(f"TemplateURL ({region}): {template_url(built, args.bucket_prefix, region)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
