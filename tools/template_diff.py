"""`make diff`: what a change does to each stack's template, offline, for code review.

Synthesizes the working tree and a git ref (default ``main``) with the same local manifests
(``runs/`` is not in git), runs ``cdk diff --template`` per stack (no AWS credentials needed),
then prints a review summary that calls out replacements and IAM/security changes, with what
they mean for this app (an EndpointConfig replacement is how an endpoint update happens), and
the endpoint updates AWS would refuse or carry out unexpectedly (tools/update_checks.py), each
with the safe sequence of deploys.
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

from contract.errors import CliError
from tools.cdk_cli import CDK, ROOT, cli_env
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


def summarize(all_changes: list[StackChanges], ref: str, traps: list[Trap] | None = None) -> str:
    lines = [f"Review summary (working tree vs {ref})"]
    traps = traps or []
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


def synth(app_dir: Path, config: str, outdir: Path) -> list[Path]:
    result = subprocess.run([str(CDK), "synth", "--quiet", "--no-notices", "-c", f"config={config}",
                             "-o", str(outdir)], cwd=app_dir, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"synth in {app_dir} failed:\n{result.stderr[-2000:]}")
    return sorted(outdir.glob("*.template.json"))


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
                traps.extend(find_traps(json.loads(base[name].read_text()),
                                        json.loads(head[name].read_text()), stack))
        print(summarize(all_changes, args.ref, traps))
        return 1 if args.fail and any(c.changed for c in all_changes) else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

