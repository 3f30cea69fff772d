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
        return f"{DOCS}#{self.id}"

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
    model: Any  # the Model resource's properties (a new model changes them, not the reference)


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
        model = _referenced(resources, item.get("ModelName"), MODEL)
        model_properties = (model or {}).get("Properties") or item.get("ModelName")
        variants[name] = Variant(name=name, instance_type=item.get("InstanceType"),
                                 instance_count=item.get("InitialInstanceCount"),
                                 weight=item.get("InitialVariantWeight"),
                                 serverless=item.get("ServerlessConfig"), model=model_properties)
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


def _autoscaled_variant_removed(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    gone = sorted(old.autoscaled - new.variants.keys())
    return [Trap(
        "autoscaled_variant_removed", "fails", stack,
        f"variant {name} is removed (or renamed) while it is registered for autoscaling",
        "SageMaker requires an autoscaled variant to be deregistered before an update removes it, "
        "and its scalable target is deleted only after the endpoint update",
        (f"deploy with autoscaling removed from {name} (keep the variant)",
         f"deploy without {name}")) for name in gone]


def _variant_names_blue_green(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    added = sorted(new.variants.keys() - old.variants.keys())
    removed = sorted(old.variants.keys() - new.variants.keys())
    if not (added or removed) or not new.blue_green:
        return []
    return [Trap(
        "variant_names_blue_green", "fails", stack,
        f"the variant names change (added {added or 'none'}, removed {removed or 'none'}) under a "
        "blue/green deployment policy",
        "a blue/green update must keep the old endpoint config's variant names (AWS does not "
        "document what it does otherwise: expect the update to be refused)",
        ('deploy the variant change with strategy = "none" and guardrails = false in '
         "[endpoint.rollout] (no deployment policy)",
         "set variant_slots to the new names, restore the strategy and guardrails, deploy again"))]


def _serverless_switch(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    traps = []
    for name in sorted(old.variants.keys() & new.variants.keys()):
        was, now = old.variants[name].serverless is not None, new.variants[name].serverless is not None
        if was == now:
            continue
        if now:
            traps.append(Trap(
                "instance_to_serverless", "fails", stack,
                f"variant {name} switches from instances to serverless",
                "SageMaker cannot convert an instance-based endpoint to serverless: the update is "
                "refused with a ValidationError",
                ("deploy the serverless model on a new endpoint (another project.prefix), move "
                 "callers to it, then remove this one",)))
        else:
            traps.append(Trap(
                "serverless_to_instance_one_way", "unexpected", stack,
                f"variant {name} switches from serverless to instances",
                "allowed, but there is no way back: an instance-based endpoint cannot be updated to "
                "serverless again"))
    return traps


def _data_capture_change(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if old.data_capture == new.data_capture or not old.retain_all:
        return []
    return [Trap(
        "datacapture_with_retention", "unexpected", stack,
        "the data capture settings change on an endpoint that retains its variant properties",
        "with RetainAllVariantProperties the endpoint keeps properties it runs with, and "
        "ExcludeRetainedVariantProperties cannot name the data capture config: whether the new "
        "settings apply on this update is not documented",
        ("check the endpoint's DataCaptureConfig after the deploy (aws sagemaker describe-endpoint)",))]


def _kms_key_change(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if old.kms_key == new.kms_key:
        return []
    return [Trap(
        "kms_key_change", "unexpected", stack,
        "the ML storage volume key changes",
        "the new instances' volumes are encrypted with the new key, whose key policy must admit "
        "SageMaker and the deploying role; a key it cannot use fails the update late, after the "
        "new fleet was requested")]


def _instance_count_not_applied(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if not (old.retain_all and new.retain_all):
        return []
    names = sorted(name for name in old.variants.keys() & new.variants.keys()
                   if old.variants[name].instance_count != new.variants[name].instance_count
                   or (name in old.autoscaled and name not in new.autoscaled))
    if not names:
        return []
    return [Trap(
        "instance_count_not_applied", "unexpected", stack,
        f"the instance count of {', '.join(names)} in the config does not take effect",
        "while any variant autoscales the endpoint retains its variant properties: an update keeps "
        "each existing variant's current instance count, whatever the new config says (a variant "
        "that stops autoscaling stays where the scaler left it)",
        ("after the deploy, set the count with xgbapi traffic --instances VARIANT=COUNT",))]


def _retention_flag_flip(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if not old.retain_all or new.retain_all:
        return []
    counts = ", ".join(f"{name} -> {variant.instance_count}" for name, variant in sorted(new.variants.items())
                       if variant.instance_count is not None)
    return [Trap(
        "retention_flag_flip", "unexpected", stack,
        f"no variant autoscales any more: every instance count resets to the config's ({counts})",
        "without autoscaling the endpoint stops retaining its variant properties, so this update "
        "applies the config's InitialInstanceCount instead of the counts the scaler reached (a "
        "scaled-out fleet shrinks at once)",
        ("set instance_count to the count each variant runs now (xgbapi status shows it) in the "
         "same change",))]


def _endpoint_name_change(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    if old.endpoint_name == new.endpoint_name:
        return []
    return [Trap(
        "endpoint_name_change", "unexpected", stack,
        f"the endpoint name changes ({old.endpoint_name} -> {new.endpoint_name})",
        "EndpointName requires replacement: CloudFormation creates a new endpoint and deletes the "
        "old one; callers and dashboards that use the old name break, and run-time weights, counts "
        "and autoscaling state start over",
        ("keep the name; to move, deploy a second stack set under the new prefix, switch callers, "
         "then destroy the old one",))]


def _step_in_instances(old: EndpointView, new: EndpointView, stack: str) -> list[Trap]:
    routing = ((new.deployment_config or {}).get("BlueGreenUpdatePolicy") or {}).get(
        "TrafficRoutingConfiguration") or {}
    step = routing.get("CanarySize") or routing.get("LinearStepSize") or {}
    if step.get("Type") != "INSTANCE_COUNT" or not new.autoscaled or old.variants == new.variants:
        return []
    return [Trap(
        "canary_linear_size_vs_fleet", "unexpected", stack,
        f"the {routing.get('Type', '').lower()} step is {step.get('Value')} instance(s) and a variant "
        "autoscales",
        "SageMaker checks the step against the live fleet (canary at most 50%, linear steps 10-50%), "
        "but synth checked it against the config's instance_count; the scaler may have changed the "
        "fleet since",
        ('give the step as a percentage of the fleet, e.g. canary_size = "10%"',))]


_CHECKS = (_autoscaled_instance_type, _autoscaled_variant_removed, _variant_names_blue_green,
           _serverless_switch, _data_capture_change, _kms_key_change, _instance_count_not_applied,
           _retention_flag_flip, _endpoint_name_change, _step_in_instances)


def blocking(traps: list[Trap]) -> list[Trap]:
    return [trap for trap in traps if trap.severity == "fails"]
