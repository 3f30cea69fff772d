"""Endpoint updates AWS would refuse, or carry out in a way a user would not expect.

Some changes synthesize, pass cfn-lint, cdk-nag and the emulator, and still fail halfway
through a CloudFormation stack update (which then rolls back, for a guarded blue/green
rollout after up to an hour). This module compares two templates of the Inference stack, the
deployed one (or a base ref's) and the new one, and names each such change: what fails or
surprises, why, and the safe sequence of deploys. ``xgbapi diff`` prints the findings in its
review summary; ``xgbapi deploy`` refuses a failing one unless told otherwise.

Every check cites its source in docs/update-traps.md (the trap ids below are its anchors).
Standard library only: it reads template JSON and never calls AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fails", "unexpected"]

ENDPOINT = "AWS::SageMaker::Endpoint"
ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"
MODEL = "AWS::SageMaker::Model"
SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
DOCS = "docs/update-traps.md"
_VARIANT_OF_TARGET = re.compile(r"/variant/(?P<variant>[^/]+)$")


@dataclass(frozen=True)
class Trap:
    """One finding: ``fails`` stops a deploy (unless overridden); ``unexpected`` is a warning."""

    id: str
    severity: Severity
    stack: str
    what: str
    why: str
    safe_sequence: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return f"{DOCS}#{self.id.replace('_', '-')}"

    def render(self) -> list[str]:
        label = "WILL FAIL" if self.severity == "fails" else "UNEXPECTED"
        lines = [f"    {label} [{self.id}] {self.what}", f"      why: {self.why}"]
        if self.safe_sequence:
            lines.append("      safe sequence:")
            lines.extend(f"        {n}. {step}" for n, step in enumerate(self.safe_sequence, start=1))
        lines.append(f"      source: {self.source}")
        return lines


@dataclass(frozen=True)
class Variant:
    name: str
    instance_type: str | None
    instance_count: Any
    weight: Any
    serverless: dict[str, Any] | None
    model: Any  # the ModelName value (a GetAtt of the Model resource)


@dataclass(frozen=True)
class EndpointView:
    """The parts of an Inference stack template that decide how an update goes."""

    endpoint_name: Any
    variants: dict[str, Variant]
    autoscaled: frozenset[str]
    deployment_config: dict[str, Any] | None
    retain_all: bool
    excluded_from_retention: frozenset[str]
    kms_key: Any
    data_capture: Any
    network_isolation: dict[str, Any] = field(default_factory=dict)  # variant -> Model setting

    @property
    def blue_green(self) -> bool:
        return bool(self.deployment_config and self.deployment_config.get("BlueGreenUpdatePolicy"))


def endpoint_view(template: dict[str, Any]) -> EndpointView | None:
    """The endpoint of ``template``, or None when it has none (e.g. the Data stack)."""
    resources: dict[str, Any] = template.get("Resources") or {}
    endpoints = [r for r in resources.values() if r.get("Type") == ENDPOINT]
    if len(endpoints) != 1:
        return None
    endpoint = endpoints[0].get("Properties") or {}
    config = _referenced(resources, endpoint.get("EndpointConfigName"), ENDPOINT_CONFIG)
    config_props = (config or {}).get("Properties") or {}
    variants: dict[str, Variant] = {}
    isolation: dict[str, Any] = {}
    for item in config_props.get("ProductionVariants") or []:
        name = str(item.get("VariantName"))
        variants[name] = Variant(name=name, instance_type=item.get("InstanceType"),
                                 instance_count=item.get("InitialInstanceCount"),
                                 weight=item.get("InitialVariantWeight"),
                                 serverless=item.get("ServerlessConfig"), model=item.get("ModelName"))
        model = _referenced(resources, item.get("ModelName"), MODEL)
        isolation[name] = ((model or {}).get("Properties") or {}).get("EnableNetworkIsolation")
    autoscaled = set()
    for resource in resources.values():
        if resource.get("Type") == SCALABLE_TARGET:
            match = _VARIANT_OF_TARGET.search(_flatten((resource.get("Properties") or {}).get("ResourceId")))
            if match:
                autoscaled.add(match["variant"])
    excluded = {str(p.get("VariantPropertyType"))
                for p in endpoint.get("ExcludeRetainedVariantProperties") or []}
    return EndpointView(
        endpoint_name=endpoint.get("EndpointName"), variants=variants,
        autoscaled=frozenset(autoscaled), deployment_config=endpoint.get("DeploymentConfig"),
        retain_all=endpoint.get("RetainAllVariantProperties") is True,
        excluded_from_retention=frozenset(excluded), kms_key=config_props.get("KmsKeyId"),
        data_capture=config_props.get("DataCaptureConfig"), network_isolation=isolation)


def _referenced(resources: dict[str, Any], value: Any, kind: str) -> dict[str, Any] | None:
    """The resource a ``{"Fn::GetAtt": [id, ...]}`` or ``{"Ref": id}`` value points at."""
    logical_id = None
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id = target[0] if isinstance(target, list) else str(target).split(".")[0]
        elif "Ref" in value:
            logical_id = value["Ref"]
    resource = resources.get(str(logical_id)) if logical_id is not None else None
    return resource if resource is not None and resource.get("Type") == kind else None


def _flatten(value: Any) -> str:
    """The literal text of a string or an ``Fn::Join`` (tokens become ``?``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    return "?"


def find_traps(before: dict[str, Any], after: dict[str, Any], stack: str) -> list[Trap]:
    """The traps of updating ``stack`` from template ``before`` to template ``after``."""
    old, new = endpoint_view(before), endpoint_view(after)
    if old is None or new is None:
        return []
    traps: list[Trap] = []
    for check in _CHECKS:
        traps.extend(check(old, new, stack))
    return traps


def _autoscaled_instance_type(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    traps = []
    for name in sorted(old.autoscaled & new.variants.keys()):
        before, after = old.variants.get(name), new.variants[name]
        if before is None or before.instance_type == after.instance_type:
            continue
        if before.instance_type is None or after.instance_type is None:
            continue  # a switch to or from serverless: its own trap
        traps.append(Trap(
            "autoscaled_instance_type", "fails", stack,
            f"variant {name} changes instance type {before.instance_type} -> {after.instance_type} "
            "while it is registered for autoscaling",
            "SageMaker refuses an endpoint update that changes the instance type of a variant with "
            "a registered scalable target; the stack update fails and rolls back",
            (f"deploy with autoscaling removed from {name} (drop min_instances, max_instances and "
             "target_invocations_per_instance from its [[variants]] entry; keep the old "
             "instance_type)",
             f"deploy the new instance_type {after.instance_type} for {name}",
             f"deploy with autoscaling on {name} again")))
    return traps


def _serverless_switch(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    traps = []
    for name in sorted(old.variants.keys() & new.variants.keys()):
        was, now = old.variants[name].serverless is not None, new.variants[name].serverless is not None
        if was == now:
            continue
        direction = "instances -> serverless" if now else "serverless -> instances"
        traps.append(Trap(
            "serverless_switch", "fails", stack,
            f"variant {name} switches {direction} in one update",
            "a deployment guardrail (blue/green or rolling) update cannot move a variant between "
            "serverless and instance-based hosting; SageMaker rejects the update",
            (f"deploy the new hosting as a variant under a new name beside {name} (guardrails off "
             "while the variant set changes)",
             "shift traffic to it (xgbapi traffic --set), then deploy without the old variant",
             "record the new variant names in variant_slots and turn guardrails back on")))
    return traps


def _variant_set_change(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    added = sorted(new.variants.keys() - old.variants.keys())
    removed = sorted(old.variants.keys() - new.variants.keys())
    if not (added or removed) or not new.blue_green:
        return []
    return [Trap(
        "variant_set_change", "unexpected", stack,
        f"the variant set changes (added {added or 'none'}, removed {removed or 'none'}) under a "
        "blue/green deployment policy",
        "traffic shifting applies to the variants both configs share; a variant that is new or "
        "gone is created or deleted with the whole new fleet, and the rollback alarms of a removed "
        "variant no longer watch anything",
        ("to rename a variant, add the new one beside the old, shift traffic, then remove the old "
         "one in a later deploy",))]


def _data_capture_change(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if old.data_capture == new.data_capture or not old.retain_all:
        return []
    return [Trap(
        "data_capture_retained", "unexpected", stack,
        "the data capture settings change on an endpoint that retains its variant properties",
        "with RetainAllVariantProperties the endpoint keeps the data capture settings it runs "
        "with; a new DataCaptureConfig in the endpoint config does not take effect on update, and "
        "ExcludeRetainedVariantProperties cannot name it",
        ("deploy the change with autoscaling off on every variant (RetainAllVariantProperties "
         "false), then turn autoscaling back on",))]


def _scaling_removed(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    """Autoscaling taken off: the instance counts the scaler chose do not survive as expected."""
    dropped = sorted((old.autoscaled - new.autoscaled) & new.variants.keys())
    if not dropped:
        return []
    if not new.retain_all:
        counts = ", ".join(f"{n} -> {new.variants[n].instance_count}" for n in dropped)
        return [Trap(
            "counts_reset", "unexpected", stack,
            f"autoscaling ends on {', '.join(dropped)} and the endpoint stops retaining its "
            f"variant properties: instance counts reset to the config's ({counts})",
            "without autoscaling the endpoint no longer sets RetainAllVariantProperties, so the "
            "update applies the new config's InitialInstanceCount instead of the count the scaler "
            "had reached (a scaled-out fleet shrinks at once)",
            ("set instance_count to the count the variant needs now (xgbapi status shows it) in "
             "the same change",))]
    return [Trap(
        "scaled_count_frozen", "unexpected", stack,
        f"autoscaling ends on {', '.join(dropped)} while another variant still autoscales: "
        "its instance count stays where the scaler left it",
        "RetainAllVariantProperties stays on (another variant autoscales), so the update keeps "
        "the variant's current instance count, not the config's instance_count, and no scaler "
        "moves it any more",
        ("after the deploy, set the count you want with xgbapi traffic --instances "
         "VARIANT=COUNT",))]


def _endpoint_renamed(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if old.endpoint_name == new.endpoint_name:
        return []
    return [Trap(
        "endpoint_renamed", "unexpected", stack,
        f"the endpoint name changes ({old.endpoint_name} -> {new.endpoint_name})",
        "EndpointName requires replacement: CloudFormation creates a new endpoint and deletes "
        "the old one; callers and dashboards that use the old name break, and the run-time "
        "weights, counts and autoscaling state start over",
        ("keep project.prefix (it names the endpoint); to move, deploy a second stack set "
         "under the new prefix, switch callers, then destroy the old one",))]


_CHECKS = (_autoscaled_instance_type, _serverless_switch, _variant_set_change, _data_capture_change,
           _scaling_removed, _endpoint_renamed)


def blocking(traps: list[Trap]) -> list[Trap]:
    return [trap for trap in traps if trap.severity == "fails"]
