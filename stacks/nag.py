"""cdk-nag wiring: the AwsSolutions pack on the whole app, and one way to acknowledge a rule.

cdk-nag 3 reports through CDK's Validations API: findings fail ``app.synth()`` and land in
``cdk.out/policy-validation-report.json``. Acknowledgements are attached to the narrowest
construct that needs them, always with the reason, so ``cdk synth`` documents every exception.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def enable_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::arn...]``) on ``construct`` only."""
    if not reason.strip():
        raise ValueError(f"an acknowledgement of {rule} needs a reason")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
