"""mamori-open-proxy-ports: a security group must not let the internet reach a proxy port.

The open-proxy incident: an HTTP proxy port open to 0.0.0.0/0 in a shared account drew
abuse reports nobody read, until AWS blocked EC2 in the region. Evaluates the configuration
item as Config recorded it, with no AWS call except PutEvaluations (and prefix-list
look-ups when the group references a customer-managed prefix list).
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.exposure import (
    DEFAULT_PROXY_PORTS,
    MalformedPermission,
    annotation,
    entries_from_configuration,
    find_exposures,
    format_ports,
    parse_proxy_ports,
    parse_trusted,
    referenced_prefix_lists,
)
from mamori.prefix_lists import resolve_customer_prefix_lists

RESOURCE_TYPE = "AWS::EC2::SecurityGroup"


class OpenProxyPorts(ConfigRule):  # type: ignore[misc]
    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"ProxyPorts", "TrustedCidrs"})
        return {
            "ProxyPorts": config_rule.parse_parameter(
                rule_parameters, "ProxyPorts", format_ports(DEFAULT_PROXY_PORTS), parse_proxy_ports
            ),
            "TrustedCidrs": config_rule.parse_parameter(rule_parameters, "TrustedCidrs", "", parse_trusted),
        }

    def evaluate_change(
        self,
        event: dict[str, Any],
        client_factory: Any,
        configuration_item: dict[str, Any],
        valid_rule_parameters: dict[str, Any],
    ) -> list[Evaluation]:
        exempt, note = config_rule.exemption_evaluation(configuration_item.get("tags"))
        if exempt is not None:
            return [exempt]
        configuration = configuration_item.get("configuration")
        if not isinstance(configuration, dict):
            return [Evaluation(ComplianceType.NOT_APPLICABLE, annotation="The configuration item holds no configuration.")]
        try:
            entries = entries_from_configuration(configuration)
        except MalformedPermission as error:
            return [
                Evaluation(
                    ComplianceType.NOT_APPLICABLE,
                    annotation=config_rule.with_note(
                        f"The configuration item is malformed ({error} in ipPermissions); nothing was judged.", note
                    ),
                )
            ]
        prefix_lists: dict[str, list[str]] = {}
        if referenced := referenced_prefix_lists(entries):
            ec2 = client_factory.build_client("ec2", region=configuration_item.get("awsRegion"))
            prefix_lists = resolve_customer_prefix_lists(ec2, referenced)
        exposures = find_exposures(
            entries, valid_rule_parameters["ProxyPorts"], valid_rule_parameters["TrustedCidrs"], prefix_lists
        )
        if exposures:
            return [Evaluation(ComplianceType.NON_COMPLIANT, annotation=config_rule.with_note(annotation(exposures), note))]
        return [Evaluation(ComplianceType.COMPLIANT, annotation=note)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(OpenProxyPorts(), [RESOURCE_TYPE]), event, context)
