"""EC2 instances in moto, in any region: what the region-wide rules, the demo and the bench
launch, stop and terminate. moto does not check the image of RunInstances, and
harness.aws.fake_credentials turns off moto's ~1,300 example images per region (seconds of
start-up for every region a scan touches), so any image id does."""

import datetime
from typing import Any

import boto3

IMAGE = "ami-0123456789abcdef0"


def launch(
    region: str,
    count: int = 1,
    instance_type: str = "t3.micro",
    spot: bool = False,
    tags: dict[str, str] | None = None,
) -> list[str]:
    """count instances in region (one RunInstances call); their ids."""
    ec2 = boto3.client("ec2", region_name=region)
    extra: dict[str, Any] = {}
    if spot:
        extra["InstanceMarketOptions"] = {"MarketType": "spot"}
    if tags:
        extra["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    answer = ec2.run_instances(ImageId=IMAGE, MinCount=count, MaxCount=count, InstanceType=instance_type, **extra)
    return [instance["InstanceId"] for instance in answer["Instances"]]


def describe(region: str, instance_id: str) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=region)
    instance: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return instance


def state(region: str, instance_id: str) -> str:
    return str(describe(region, instance_id)["State"]["Name"])


def tags(region: str, instance_id: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in describe(region, instance_id).get("Tags", [])}


def launched(region: str, instance_id: str) -> str:
    """The launch time as the rule's annotation writes it."""
    return f"{describe(region, instance_id)['LaunchTime'].astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"


def stop(region: str, instance_id: str) -> None:
    boto3.client("ec2", region_name=region).stop_instances(InstanceIds=[instance_id])


def terminate(region: str, instance_id: str) -> None:
    boto3.client("ec2", region_name=region).terminate_instances(InstanceIds=[instance_id])
