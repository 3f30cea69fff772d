"""Review and deploy commands: the offline review diff, the checked deploy, the emulated deploy."""

from __future__ import annotations

import argparse
from typing import Any

from contract.config import DEFAULT_CONFIG_PATH


def register(commands: Any) -> None:
    diff = commands.add_parser(
        "diff", help="offline template diff of the working tree against a git ref, with a review summary",
        description="Synthesize the working tree and REF (in a git worktree), run cdk diff per stack, "
        "and summarize replacements and IAM changes.")
    diff.add_argument("--ref", default="main", help="git ref to compare with (default: main)")
    diff.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    diff.add_argument("--fail", action="store_true", help="exit 1 when any template differs")
    diff.set_defaults(func=_diff)
    emulated = commands.add_parser(
        "deploy-emulated", help="deploy every stack into moto on loopback, list what was created",
        description="Start moto_server on loopback, cdk bootstrap and deploy every stack into it, "
        "list the resources, stop.")
    emulated.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    emulated.add_argument("--port", type=int, default=None, help="loopback port (default: a free one)")
    emulated.set_defaults(func=_emulate)
    deploy = commands.add_parser(
        "deploy", help="cdk deploy every stack, after checking the update against what is deployed",
        description="Synthesize, compare each stack with its deployed template, refuse an endpoint "
        "update AWS would reject (printing the safe sequence of deploys), then cdk deploy. Refuses "
        "variants that name a run instead of a promoted record (xgbapi promote). Needs "
        "AWS credentials and a bootstrapped account.")
    deploy.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    deploy.add_argument("--allow-unsafe-update", action="store_true",
                        help="deploy even when the check finds a change that makes the update fail")
    deploy.add_argument("--allow-unpromoted", action="store_true",
                        help="deploy variants that name a run manifest instead of a promoted "
                        "record (models/<variant>.json), e.g. in a sandbox account")
    deploy.add_argument("--require-approval", default="broadening",
                        choices=("never", "any-change", "broadening"),
                        help="cdk deploy's approval of security changes (default broadening)")
    deploy.set_defaults(func=_deploy)


def _diff(args: argparse.Namespace) -> int:
    from tools import template_diff

    return template_diff.run(args)


def _deploy(args: argparse.Namespace) -> int:
    from tools import deploy

    return deploy.run(args)


def _emulate(args: argparse.Namespace) -> int:
    from tools import emulator

    return emulator.run(args)
