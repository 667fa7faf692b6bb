"""How mamori reads what AWS answers: the code and text of a botocore error, and account ids.

Inlined into SSM documents: standard library and botocore only.
"""

import re

import botocore.exceptions

ACCOUNT_ID_PATTERN = r"\d{12}"
ACCOUNT_ID = re.compile(rf"^{ACCOUNT_ID_PATTERN}$")


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError ("Unknown" when it names none); for any other
    exception its type's name."""
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def error_text(error: BaseException) -> str:
    """'Code: Message' of a ClientError; 'Type: message' of any other exception."""
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"
