"""What the remediations of IAM users (iam-user-console-mfa, stale-access-keys) and their
restores share on top of the kernel (mamori.remediation): the UserId input, finding the live
user by that id, its tags (mamori:exempt, mamori:remediated) and the UserName output.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

import boto3

from mamori.exemption import Exemptible, tags_as_dict
from mamori.iam_users import USER_ID_PATTERN, IamUser, find_user, user_tags
from mamori.records import REMEDIATED_TAG, Record
from mamori.remediation import Remediation
from mamori.restoration import Restore
from mamori.unit import Unit


class IamUserUnit(Exemptible, Unit[IamUser]):
    resource_input = "UserId"
    resource_pattern = USER_ID_PATTERN
    text_outputs = ("UserName",)

    def read_parameters(self) -> None:
        self.iam = boto3.client("iam")
        self._tags: list[dict[str, str]] | None = None

    def live_user(self) -> IamUser | None:
        """The user with this id (no IAM call takes an id: ListUsers), named in the outputs."""
        user = find_user(self.iam, self.resource_id)
        if user is not None:
            self.outputs["UserName"] = user.name
        return user

    def not_found_message(self) -> str:
        return f"No IAM user has the id {self.resource_id}; nothing to do."

    def tags(self, target: IamUser) -> list[dict[str, str]]:
        """The user's tags as they were before this run changed anything (read once)."""
        if self._tags is None:
            self._tags = user_tags(self.iam, target.name)
        return self._tags


class IamUserRemediation(IamUserUnit, Remediation[IamUser]):
    def find(self) -> IamUser | None:
        return self.live_user()

    def write_tag(self, target: IamUser, value: str) -> None:
        self.iam.tag_user(UserName=target.name, Tags=[{"Key": REMEDIATED_TAG, "Value": value}])


class IamUserRestore(IamUserUnit, Restore[IamUser]):
    def find(self, record: Record | None) -> IamUser | None:
        return self.live_user()

    def tagged(self, target: IamUser) -> bool:
        """The user carries mamori's tag: what the restore role's conditions require to act."""
        return REMEDIATED_TAG in tags_as_dict(self.tags(target))

    def tagged_by_this_remediation(self, target: IamUser) -> bool:
        """The tag is this remediation's (its value names it): both IAM user remediations tag the
        same key, and one's restore must not take away the mark the other's still needs."""
        return self.remediation_id in tags_as_dict(self.tags(target)).get(REMEDIATED_TAG, "")

    def untag_change(self, target: IamUser) -> list[str]:
        """The plan's line for the mamori:remediated tag, when the user still has this remediation's."""
        return [f"remove the {REMEDIATED_TAG} tag of {target.name}"] if self.tagged_by_this_remediation(target) else []

    def remove_tag(self, target: IamUser) -> None:
        if self.tagged_by_this_remediation(target):
            self.iam.untag_user(UserName=target.name, TagKeys=[REMEDIATED_TAG])
