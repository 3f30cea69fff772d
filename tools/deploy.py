"""``xgbapi deploy`` (make deploy): check the update against what is deployed, then cdk deploy.

Synthesizes the app, reads each stack's deployed template (CloudFormation GetTemplate: what
``cdk diff`` compares with), and looks for updates AWS would refuse or carry out unexpectedly
(tools/update_checks.py). A change that would fail stops the deploy before CloudFormation
starts (a failed endpoint update rolls back, with a guarded rollout after up to an hour),
unless ``--allow-unsafe-update`` says the user accepts that. Then runs ``cdk deploy`` on the
same synthesized assembly.

Before any of that it refuses models that are not promoted (:func:`refuse_unpromoted`): a
deploy serves the committed records (``record = "models/<variant>.json"``), not run
directories on one machine. ``--allow-unpromoted`` lifts that for sandbox accounts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.config import AppConfig, load_config
from contract.errors import CliError
from contract.model_record import record_path
from tools.cdk_cli import CDK, ROOT, cli_env, synth
from tools.update_checks import Trap, blocking, find_traps

ASSEMBLY = ROOT / "cdk.out"
# stack name -> its deployed template, or None when the stack is not deployed yet
DeployedTemplates = Callable[[str], dict[str, Any] | None]


def check_update(templates: dict[str, dict[str, Any]], deployed: DeployedTemplates) -> list[Trap]:
    """The traps of moving every deployed stack to its template in ``templates``."""
    traps: list[Trap] = []
    for stack, template in sorted(templates.items()):
        current = deployed(stack)
        if current is not None:
            traps.extend(find_traps(current, template, stack))
    return traps


def refuse_if_blocking(traps: list[Trap], *, allow_unsafe: bool) -> None:
    failing = blocking(traps)
    if failing and not allow_unsafe:
        ids = ", ".join(sorted({trap.id for trap in failing}))
        raise CliError(f"{len(failing)} change(s) would make the stack update fail ({ids}); nothing "
                       "was deployed",
                       "deploy the safe sequence printed above, one step per deploy, or pass "
                       "--allow-unsafe-update (make deploy ALLOW_UNSAFE_UPDATE=1) to try anyway")


def unpromoted(config: AppConfig) -> list[str]:
    """One line per model the config would deploy from a run instead of a promoted record."""
    found: list[str] = []
    for model in config.models:
        if model.record is not None:
            continue
        where = f"{model.variant.name} uses the run manifest {model.variant.manifest_path}"
        if model.manifest.model_data is None:
            where += " (its model.tar.gz is only on this machine)"
        found.append(where)
    return found


def refuse_unpromoted(config: AppConfig, *, allow_unpromoted: bool) -> None:
    """Refuse to deploy models that are not committed records, unless the user says so.

    A config with no model yet deploys the Data stack alone and is let through (the first
    phase of a SageMaker workflow).
    """
    found = unpromoted(config)
    if not found or allow_unpromoted:
        return
    names = [model.variant.name for model in config.models if model.record is None]
    first = names[0]
    raise CliError(
        f"{config.source} deploys models that are not promoted: {'; '.join(found)}; nothing was "
        "deployed",
        f"promote each (xgbapi promote --variant {first}), commit {record_path(first)} and point "
        f'the variant at it (record = "{record_path(first)}" instead of manifest = ...), or pass '
        "--allow-unpromoted (make deploy ALLOW_UNPROMOTED=1) for a sandbox account")


def deployed_templates(cloudformation: Any) -> DeployedTemplates:
    """GetTemplate per stack; a stack that does not exist yet has no template."""
    from deployed.aws import aws_errors

    def lookup(stack: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            body = cloudformation.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
        except ClientError as error:
            if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
                return None
            with aws_errors(f"GetTemplate of {stack}", fix="check the credentials may call "
                            "cloudformation:GetTemplate, and the region"):
                raise
        # boto3 hands a JSON template over as a dict already, a YAML one as text.
        return body if isinstance(body, dict) else json.loads(body)

    return lookup


def read_templates(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Stack name -> template, for the template files cdk synth wrote."""
    return {path.name.removesuffix(".template.json"): json.loads(path.read_text()) for path in paths}


def run(args: argparse.Namespace) -> int:
    import boto3

    from deployed.aws import session

    # Paths resolved against the project root, where cdk synth runs: from another directory the
    # runs would otherwise look absent and slip past the promoted-models check.
    config_path = Path(args.config).resolve()  # the same file for this check and for cdk synth
    config = load_config(config_path, base_dir=ROOT)  # every config problem before anything else
    refuse_unpromoted(config, allow_unpromoted=getattr(args, "allow_unpromoted", False))
    region = config.region or boto3.Session().region_name
    if not region:
        raise CliError("no region to deploy to", "set project.region in the config, or AWS_REGION")
    try:
        templates = read_templates(synth(ROOT, config_path, ASSEMBLY))
    except RuntimeError as error:
        raise CliError(str(error).replace("\n", " "), "fix the reported problem and deploy again") from None
    cloudformation = session(region).client("cloudformation")
    traps = check_update(templates, deployed_templates(cloudformation))
    for trap in traps:
        print("\n".join(trap.render()), file=sys.stderr)
    refuse_if_blocking(traps, allow_unsafe=args.allow_unsafe_update)
    command = [str(CDK), "deploy", "--all", "--no-notices", "--app", str(ASSEMBLY),
               "--require-approval", args.require_approval]
    return subprocess.run(command, cwd=ROOT, env=cli_env(validation=False)).returncode
