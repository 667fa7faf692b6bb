"""AWS Config's words for a result, and how much of an annotation it keeps: one definition for
the rules' decisions, the remediations' re-checks and the responders.

Inlined into SSM documents: standard library only.
"""

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"
# PutEvaluations keeps at most 256 characters of an annotation.
ANNOTATION_LIMIT = 256
