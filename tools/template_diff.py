"""`make diff`: what a change does to each stack's template, offline, for code review.

Synthesizes the working tree and a git ref (default ``main``), runs ``cdk diff --template`` per
stack (no AWS credentials needed), then prints a review summary that calls out replacements and
IAM/security changes, with what they mean for this app (an EndpointConfig replacement is how an
endpoint update happens; a replaced Model shows its old and new ModelDataUrl, a replaced
EndpointConfig each variant's weight change), and the endpoint updates AWS would refuse or carry
out unexpectedly (tools/update_checks.py), each with the safe sequence of deploys.

Committed model records (``models/<variant>.json``) are in git, so each side synthesizes its own;
local runs (``runs/``, not in git) are shared by both sides.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.errors import CliError
from tools.cdk_cli import CDK, ROOT, cli_env, synth
from tools.update_checks import Trap, find_traps

ENV = cli_env(validation=False)
# Files that are not in git but that a synth reads: the trained models and prepared data.
LOCAL_INPUTS = ("runs", "data", ".venv", "node_modules")

_RESOURCE_LINE = re.compile(r"^\[(?P<op>[+~-])\] (?P<type>AWS::\S+|Custom::\S+) (?P<path>\S+)(?P<rest>.*)$")

# What a replacement or removal of these types means here, for the summary.
_MEANING = {
    "AWS::SageMaker::EndpointConfig": (
        "endpoint update: CloudFormation points the endpoint at a new config (SageMaker swaps "
        "instances blue/green, no downtime); weights return to the config's, and so do instance "
        "counts unless a variant autoscales"),
    "AWS::SageMaker::Model": "a new model version behind a variant",
    "AWS::SageMaker::Endpoint": "ENDPOINT REPLACED OR REMOVED: predictions fail until it is back",
    "AWS::S3::Bucket": "BUCKET REPLACED OR REMOVED: the old one is retained (orphaned) with its data",
    "AWS::KMS::Key": "KEY REPLACED OR REMOVED: data encrypted with the old key needs it to be read",
    "AWS::ApiGateway::RestApi": "API REPLACED OR REMOVED: its URL changes",
}


@dataclass
class StackChanges:
    stack: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (type, path)
    logical_ids: dict[str, str] = field(default_factory=dict)  # construct path -> logical id
    iam_changes: bool = False
    security_group_changes: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.modified or self.iam_changes)


def parse_cdk_diff(stack: str, text: str) -> StackChanges:
    """Read the resource lines and security tables of `cdk diff` output for one stack."""
    changes = StackChanges(stack)
    for line in text.splitlines():
        match = _RESOURCE_LINE.match(line.strip())
        if match:
            entry = f"{match['type']} {match['path']}"
            op, rest = match["op"], match["rest"]
            if rest.split():  # cdk diff prints the logical id after the construct path
                changes.logical_ids[match["path"]] = rest.split()[0]
            if op == "+":
                changes.added.append(entry)
            elif op == "-":
                changes.removed.append(entry)
            else:
                changes.modified.append(entry)
                if "replace" in rest:
                    changes.replaced.append((match["type"], match["path"]))
        elif line.startswith("IAM Statement Changes") or line.startswith("IAM Policy Changes"):
            changes.iam_changes = True
        elif line.startswith("Security Group Changes"):
            changes.security_group_changes = True
    return changes


# A stack's (base, head) templates, for the details of its replacements.
TemplatePair = tuple[dict[str, Any], dict[str, Any]]


def _show(value: object) -> str:
    """A template value on one line: a plain string as is, an asset URL's Fn::Sub as its text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])
    if value is None:
        return "(none)"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _resource(template: dict[str, Any], logical_id: str | None, stack: str,
              path: str) -> dict[str, Any] | None:
    """The resource by logical id, else by its construct path (aws:cdk:path metadata)."""
    resources: dict[str, dict[str, Any]] = template.get("Resources", {})
    if logical_id is not None and logical_id in resources:
        return resources[logical_id]
    for resource in resources.values():
        if resource.get("Metadata", {}).get("aws:cdk:path") == f"{stack}/{path}":
            return resource
    return None


def _weights(config: dict[str, Any]) -> dict[str, object]:
    variants = config.get("Properties", {}).get("ProductionVariants", [])
    return {str(v.get("VariantName")): v.get("InitialVariantWeight")
            for v in variants if isinstance(v, dict)}


def replacement_details(kind: str, path: str, logical_id: str | None, stack: str,
                        templates: TemplatePair) -> list[str]:
    """What changes in a replaced Model (ModelDataUrl) or EndpointConfig (variant weights)."""
    base_template, head_template = templates
    old = _resource(base_template, logical_id, stack, path)
    new = _resource(head_template, logical_id, stack, path)
    if old is None or new is None:
        return []
    if kind == "AWS::SageMaker::Model":
        old_url = old.get("Properties", {}).get("PrimaryContainer", {}).get("ModelDataUrl")
        new_url = new.get("Properties", {}).get("PrimaryContainer", {}).get("ModelDataUrl")
        if old_url == new_url:
            return [f"      ModelDataUrl unchanged: {_show(new_url)}"]
        return [f"      ModelDataUrl old: {_show(old_url)}", f"      ModelDataUrl new: {_show(new_url)}"]
    if kind == "AWS::SageMaker::EndpointConfig":
        old_weights, new_weights = _weights(old), _weights(new)
        return [f"      weight {name}: {_show(old_weights.get(name))} -> {_show(new_weights.get(name))}"
                for name in [*old_weights, *(n for n in new_weights if n not in old_weights)]
                if old_weights.get(name) != new_weights.get(name)]
    return []


def summarize(all_changes: list[StackChanges], ref: str, traps: list[Trap] | None = None,
              templates: dict[str, TemplatePair] | None = None) -> str:
    """The review summary; ``templates`` (stack -> (base, head)) adds what replacements change."""
    lines = [f"Review summary (working tree vs {ref})"]
    traps = traps or []
    templates = templates or {}
    if not any(c.changed for c in all_changes):
        return "\n".join([*lines, "  no template changes"])
    for changes in all_changes:
        if not changes.changed:
            lines.append(f"  {changes.stack}: no changes")
            continue
        lines.append(f"  {changes.stack}: +{len(changes.added)} added, -{len(changes.removed)} "
                     f"removed, ~{len(changes.modified)} modified, {len(changes.replaced)} replaced")
        for kind, path in changes.replaced:
            lines.append(f"    REPLACED {kind} {path}: {_MEANING.get(kind, 'new physical resource')}")
            if changes.stack in templates:
                lines.extend(replacement_details(kind, path, changes.logical_ids.get(path),
                                                 changes.stack, templates[changes.stack]))
        for entry in changes.removed:
            kind = entry.split()[0]
            if kind in _MEANING and kind not in {"AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Model"}:
                lines.append(f"    REMOVED {entry}: {_MEANING[kind]}")
        if changes.iam_changes:
            lines.append("    SECURITY: IAM statements change (see the IAM table above)")
        if changes.security_group_changes:
            lines.append("    SECURITY: security groups change (see the table above)")
        for trap in traps:
            if trap.stack == changes.stack:
                lines.extend(trap.render())
    return "\n".join(lines)


def synth_ref(ref: str, config: str, workdir: Path) -> tuple[list[Path], str | None]:
    """Synthesize ``ref`` in a temporary worktree sharing this checkout's local inputs."""
    tree = workdir / "base"
    subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(tree), ref], cwd=ROOT,
                   check=True, capture_output=True, text=True)
    try:
        for name in LOCAL_INPUTS:
            if (ROOT / name).exists() and not (tree / name).exists():
                (tree / name).symlink_to(ROOT / name)
        if not (tree / config).exists():
            return [], f"{ref} has no {config}; every stack counts as new"
        try:
            return synth(tree, config, workdir / "base.out"), None
        except RuntimeError as error:
            return [], f"{ref} does not synthesize ({str(error).splitlines()[0]}); every stack counts as new"
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                       capture_output=True)


def run(args: argparse.Namespace) -> int:
    """``xgbapi diff``: synthesize HEAD and ``args.ref``, diff each stack, print the review summary."""
    check = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.ref}^{{commit}}"],
                           cwd=ROOT, capture_output=True, text=True)
    if check.returncode != 0:
        raise CliError(f"{args.ref!r} is not a git ref here", "pass --ref (e.g. origin/main)")
    workdir = Path(tempfile.mkdtemp(prefix="cdk-diff-"))
    try:
        head_out = workdir / "head.out"
        head = {p.name: p for p in synth(ROOT, args.config, head_out)}
        base_paths, note = synth_ref(args.ref, args.config, workdir)
        if note:
            print(f"note: {note}")
        base = {p.name: p for p in base_paths}
        empty = workdir / "empty.template.json"
        empty.write_text(json.dumps({"Resources": {}}))
        all_changes = []
        traps: list[Trap] = []
        templates: dict[str, TemplatePair] = {}
        for name in sorted(head.keys() | base.keys()):
            stack = name.removesuffix(".template.json")
            if name not in head:
                print(f"Stack {stack}\n[-] the whole stack is removed from the app "
                      "(cdk deploy leaves it in place; cdk destroy removes it)\n")
                all_changes.append(StackChanges(stack, removed=[f"stack {stack}"]))
                continue
            result = subprocess.run(
                [str(CDK), "diff", "--no-notices", "--app", str(head_out), "--exclusively", stack,
                 "--template", str(base.get(name, empty))],
                cwd=ROOT, env=ENV, capture_output=True, text=True)
            output = result.stdout + result.stderr
            print(output.strip() + "\n")
            all_changes.append(parse_cdk_diff(stack, output))
            if name in base:
                templates[stack] = (json.loads(base[name].read_text()),
                                    json.loads(head[name].read_text()))
                traps.extend(find_traps(*templates[stack], stack))
        print(summarize(all_changes, args.ref, traps, templates))
        return 1 if args.fail and any(c.changed for c in all_changes) else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

