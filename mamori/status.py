"""The one vocabulary every remediation, restore and responder reports its outcome in (the
`Status` output of every document, the `status` of every responder report).

Inlined into SSM documents: standard library only.
"""

# The remediation changed exactly what the rule flagged (revoked, deactivated, stopped, created, set).
REMEDIATED = "REMEDIATED"
# A remediation that can only tell a person (root credentials) opened its OpsItem and notified.
NOTIFIED = "NOTIFIED"
# A restore put back what a remediation had recorded.
RESTORED = "RESTORED"
# DryRun=true: the outputs say what would change; nothing changed.
DRY_RUN = "DRY_RUN"
# Live state needs nothing: compliant again, already done, or already reported (a second run).
NOTHING_TO_DO = "NOTHING_TO_DO"
# A restore found no record of mamori's, or nothing of what it recorded left to undo.
NOTHING_TO_RESTORE = "NOTHING_TO_RESTORE"
# The resource no longer exists (deleted, terminated): nothing to change.
NOT_FOUND = "NOT_FOUND"
# The resource is tagged mamori:exempt with a valid reason: left alone.
SKIPPED_EXEMPT = "SKIPPED_EXEMPT"
# Responders only: refused by design (and said why), failed (and said so), or not for mamori.
REFUSED = "REFUSED"
FAILED = "FAILED"
IGNORED = "IGNORED"

STATUSES = (
    REMEDIATED,
    NOTIFIED,
    RESTORED,
    DRY_RUN,
    NOTHING_TO_DO,
    NOTHING_TO_RESTORE,
    NOT_FOUND,
    SKIPPED_EXEMPT,
    REFUSED,
    FAILED,
    IGNORED,
)
# A run that changed something, for counting and for tests of idempotence.
CHANGED = (REMEDIATED, NOTIFIED, RESTORED)
