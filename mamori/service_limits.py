"""The service limits the pack must stay under, as data, each with where AWS states it: from the
botocore service models where they state the limit (the shape is named), from the AWS
documentation otherwise (the page is named). Checked by generation (tools/limits.py: document
and template sizes), by the sandbox (harness/aws.py) and by tests/test_limits.py.

Standard library only (the harness and the generator both read it).
"""

# --- AWS Config ---------------------------------------------------------------------------
# botocore config, StaticValue.Values (StaticParameterValues, max 25) of StringWithCharLimit256.
REMEDIATION_STATIC_VALUES = 25
REMEDIATION_STATIC_VALUE_CHARS = 256
# botocore config, RemediationConfiguration.Parameters (RemediationParameters, max 25).
REMEDIATION_PARAMETERS = 25
# botocore config, ConfigRule.InputParameters (StringWithCharLimit1024).
RULE_INPUT_PARAMETERS_CHARS = 1024
# botocore config, Evaluation.Annotation (StringWithCharLimit256).
ANNOTATION_CHARS = 256
# botocore config, PutEvaluationsRequest.Evaluations (Evaluations, max 100).
EVALUATIONS_PER_PUT = 100

# --- AWS Systems Manager -------------------------------------------------------------------
# botocore ssm, AutomationParameterValue (max 512) and AutomationParameterValueList (max 50).
AUTOMATION_PARAMETER_VALUE_CHARS = 512
AUTOMATION_PARAMETER_VALUES = 50
# "The content of the document must not exceed 64KB. This quota also includes the content
# specified for input parameters at runtime." (SSM API Reference, CreateDocument, Content; the
# error is MaxDocumentSizeExceeded, "The size limit of a document is 64 KB").
SSM_DOCUMENT_LIMIT = 64 * 1024
# Parameter Store: "Maximum size for parameter value: Standard 4 KB, Advanced 8 KB" (AWS
# General Reference, Systems Manager endpoints and quotas; botocore's PSParameterValue states none).
PARAMETER_VALUE_STANDARD = 4096
PARAMETER_VALUE_ADVANCED = 8192

# --- AWS CloudFormation -------------------------------------------------------------------
# "Template body size in an Amazon S3 object ... 1 MB" (CloudFormation User Guide, quotas). SAM
# uploads template.yaml and org-template.yaml to S3 and the StackSet reads member-template.yaml
# from S3; the service counts 1,000,000 bytes. Generation keeps 10% of it free, for the SAM
# transform and the parameters it adds.
CLOUDFORMATION_TEMPLATE_LIMIT = 1_000_000
TEMPLATE_BUDGET = 900_000

# --- AWS Identity and Access Management --------------------------------------------------
# botocore iam, CreateRole RoleName (roleNameType, max 64).
IAM_ROLE_NAME_CHARS = 64

# --- AWS Organizations --------------------------------------------------------------------
# "Maximum size of a policy document: Service control policies: 5,120 characters" (Organizations
# User Guide, Quotas for AWS Organizations; botocore's PolicyContent states no maximum).
SCP_CHARS = 5120
