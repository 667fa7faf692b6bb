"""mamori-open-proxy-ports: a security group must not let the internet reach a proxy port.

The open-proxy incident: an HTTP proxy port open to 0.0.0.0/0 in a shared account drew
abuse reports nobody read, until AWS blocked EC2 in the region. Evaluates the configuration
item as Config recorded it, with no AWS call except PutEvaluations (and prefix-list
look-ups, kept a minute per container, when the group references a customer-managed list).

Besides each change, a periodic sweep (OpenProxySweepFrequency) evaluates every group of the
region at once, as AWS's own security-group rules do: DescribeSecurityGroups (1,000 groups a
call), each referenced prefix list once, and 100 evaluations per PutEvaluations. It catches
what no change event says, such as a prefix list that now holds 0.0.0.0/0. Both decide with
the same function, on the fields Config records.
"""

from collections.abc import Callable, Mapping
from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.exposure import (
    DEFAULT_PROXY_PORTS,
    MalformedPermission,
    Trusted,
    annotation,
    entries_from_configuration,
    find_exposures,
    format_ports,
    parse_proxy_ports,
    parse_trusted,
    referenced_prefix_lists,
)
from mamori.open_proxy import PREFIX_LISTS, configuration_from_api, reaching_permissions, security_groups
from mamori.prefix_lists import resolve_customer_prefix_lists

RESOURCE_TYPE = "AWS::EC2::SecurityGroup"
NO_CONFIGURATION = "The configuration item holds no configuration."


def decide(
    configuration: object,
    tags: object,
    proxy_ports: tuple[int, ...],
    trusted: Trusted,
    resolve_prefix_lists: Callable[[list[str]], Mapping[str, list[str]]],
    max_exemption_days: int,
) -> tuple[str, str]:
    """(compliance, annotation) of one group: the one decision of the change trigger and the sweep."""
    exempt, note = config_rule.exemption_evaluation(tags, max_days=max_exemption_days)
    if exempt is not None:
        return ComplianceType.NOT_APPLICABLE, exempt.annotation
    if not isinstance(configuration, dict):
        return ComplianceType.NOT_APPLICABLE, NO_CONFIGURATION
    try:
        entries = entries_from_configuration(reaching_permissions(configuration, proxy_ports))
    except MalformedPermission as error:
        return ComplianceType.NOT_APPLICABLE, config_rule.with_note(
            f"The configuration item is malformed ({error} in ipPermissions); nothing was judged.", note
        )
    referenced = referenced_prefix_lists(entries)
    prefix_lists = resolve_prefix_lists(referenced) if referenced else {}
    exposures = find_exposures(entries, proxy_ports, trusted, prefix_lists)
    if exposures:
        return ComplianceType.NON_COMPLIANT, config_rule.with_note(annotation(exposures), note)
    return ComplianceType.COMPLIANT, note


class OpenProxyPorts(ConfigRule):  # type: ignore[misc]
    # The sweep evaluates every group there is; a deleted group is reported by its change event.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"ProxyPorts", "TrustedCidrs", config_rule.MAX_EXEMPTION_DAYS})
        return {
            "ProxyPorts": config_rule.parse_parameter(
                rule_parameters, "ProxyPorts", format_ports(DEFAULT_PROXY_PORTS), parse_proxy_ports
            ),
            "TrustedCidrs": config_rule.parse_parameter(rule_parameters, "TrustedCidrs", "", parse_trusted),
            config_rule.MAX_EXEMPTION_DAYS: config_rule.max_exemption_days(rule_parameters),
        }

    def evaluate_change(
        self,
        event: dict[str, Any],
        client_factory: Any,
        configuration_item: dict[str, Any],
        valid_rule_parameters: dict[str, Any],
    ) -> list[Evaluation]:
        def prefix_lists(ids: list[str]) -> Mapping[str, list[str]]:
            return PREFIX_LISTS.resolve(client_factory.build_client("ec2", region=configuration_item.get("awsRegion")), ids)

        compliance, text = decide(
            configuration_item.get("configuration"),
            configuration_item.get("tags"),
            valid_rule_parameters["ProxyPorts"],
            valid_rule_parameters["TrustedCidrs"],
            prefix_lists,
            valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS],
        )
        return [Evaluation(compliance, annotation=text)]

    def evaluate_periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]
    ) -> list[Evaluation]:
        """The sweep: every group of the region, with the prefix lists they use read once each."""
        ec2 = client_factory.build_client("ec2")
        groups = security_groups(ec2)
        configurations = {str(group["GroupId"]): configuration_from_api(group) for group in groups}
        proxy_ports, trusted = valid_rule_parameters["ProxyPorts"], valid_rule_parameters["TrustedCidrs"]
        used = sorted(
            {
                pl
                for configuration in configurations.values()
                for pl in referenced_prefix_lists(entries_from_configuration(reaching_permissions(configuration, proxy_ports)))
            }
        )
        resolved = resolve_customer_prefix_lists(ec2, used)
        evaluations = []
        for group in groups:
            group_id = str(group["GroupId"])
            compliance, text = decide(
                configurations[group_id],
                group.get("Tags"),
                proxy_ports,
                trusted,
                lambda ids: resolved,
                valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS],
            )
            evaluations.append(Evaluation(compliance, group_id, RESOURCE_TYPE, text))
        return evaluations


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(OpenProxyPorts(), [RESOURCE_TYPE]), event, context)
