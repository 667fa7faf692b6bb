"""Text that someone else wrote, made safe to repeat in mamori's messages.

A Config annotation (and a resource id) comes from whoever may call config:PutEvaluations in
the account that sent the event: in an organization, anyone in any member account. mamori's
messages carry weight with the people who read them, so such text is never pasted as if
mamori said it: it is one line, cut to SAFE_LENGTH, its links made unclickable, quoted, and
marked with the account that reported it.
"""

import re
import unicodedata

from mamori.aws_api import ACCOUNT_ID

# Config cuts annotations at 256 characters; a shorter quote keeps one line of the message one
# line in any mail client, and leaves a member no room for a paragraph of instructions.
SAFE_LENGTH = 200
ELLIPSIS = "..."
# scheme://host and www.host: written so that no mail client turns them into links.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}):/+")
_WWW = re.compile(r"(?i)\bwww\.")


def plain(text: object, limit: int = SAFE_LENGTH) -> str:
    """One line of printable text: control and format characters (newlines, bidirectional
    overrides) become spaces, runs of spaces one, links are defanged (https://x -> https[:]//x),
    and the result is cut to `limit` characters (ELLIPSIS included)."""
    value = text if isinstance(text, str) else "" if text is None else str(text)
    value = "".join(" " if unicodedata.category(c).startswith("C") else c for c in value)
    value = " ".join(value.split())
    value = _WWW.sub("www[.]", _SCHEME.sub(r"\1[:]//", value))
    value = value.replace('"', "'")
    return value if len(value) <= limit else value[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def reporter(account: object) -> str:
    return f"account {account}" if isinstance(account, str) and ACCOUNT_ID.match(account) else "an unknown account"


def quoted(text: object, account: object, limit: int = SAFE_LENGTH) -> str:
    """'"<text>" (as reported by account <id>)', or 'none (as reported by ...)' for no text."""
    shown = plain(text, limit)
    return f'"{shown}" (as reported by {reporter(account)})' if shown else f"none (as reported by {reporter(account)})"
