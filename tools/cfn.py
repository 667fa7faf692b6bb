"""CloudFormation values and text, shared by every template the generator makes: Fn::Sub, a
pack parameter's declaration, what a value refers to, the check that every reference of a
template resolves, and the YAML text."""

import re
from collections.abc import Mapping
from typing import Any

import yaml

from mamori.catalog import Parameter


class UnresolvedReference(ValueError):
    """A template refers to a parameter, resource or condition it does not have."""


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def template_parameter(parameter: Parameter) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": "String"}
    if parameter.default is not None:
        body["Default"] = parameter.default
    if parameter.allowed_values:
        body["AllowedValues"] = list(parameter.allowed_values)
    body["Description"] = parameter.description
    if parameter.allowed_pattern:
        body["AllowedPattern"] = parameter.allowed_pattern
    if not parameter.allowed_values:
        body["MaxLength"] = parameter.max_length
        body["ConstraintDescription"] = (
            f"{parameter.name}: {parameter.constraint}" if parameter.constraint else f"{parameter.name}: any text"
        ) + f", at most {parameter.max_length} characters."
    return body


def referenced_names(value: Any) -> set[str]:
    """Logical ids and parameters a template value refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_names(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text, variables = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(variables)
                found |= referenced_names(variables)
            else:
                found |= referenced_names(inner)
    return {name for name in found if not name.startswith("AWS::")}


def referenced_conditions(value: Any) -> set[str]:
    """Conditions a template value uses: a resource's or output's Condition, {"Condition": name}
    inside Fn::And/Or/Not, and Fn::If's first argument. (An IAM statement's Condition is an
    object, not a name.)"""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_conditions(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Condition" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::If" and isinstance(inner, list) and inner and isinstance(inner[0], str):
                found.add(inner[0])
                found |= referenced_conditions(inner[1:])
            else:
                found |= referenced_conditions(inner)
    return found


def check_references(name: str, template: Mapping[str, Any]) -> None:
    """Every Ref, Fn::GetAtt and Fn::Sub names a parameter or resource of the template, and every
    condition used is declared: a generator that forgot one fails here, not in CloudFormation."""
    declared = set(template.get("Parameters", {})) | set(template.get("Resources", {}))
    used = {section: template.get(section, {}) for section in ("Conditions", "Resources", "Outputs", "Rules")}
    unknown = referenced_names(used) - declared
    if unknown:
        raise UnresolvedReference(f"{name} refers to {sorted(unknown)}, which are neither its parameters nor its resources")
    undeclared = referenced_conditions(used) - set(template.get("Conditions", {}))
    if undeclared:
        raise UnresolvedReference(f"{name} uses conditions {sorted(undeclared)}, which it does not declare")


class _Dumper(yaml.SafeDumper):
    # Plain CloudFormation rejects YAML aliases, which PyYAML writes for any value used twice.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None  # the scripts stay readable as blocks
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(template: Mapping[str, Any], header: str) -> str:
    return header + yaml.dump(dict(template), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
