"""cfn-lint (the CloudFormation resource schemas) over every synthesized template: no errors."""

import pytest
from cfnlint.api import lint

# The stacks are environment-agnostic; lint them for regions users deploy SageMaker to.
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def findings(text: str) -> list:
    return [m for m in lint(text, regions=REGIONS) if not m.rule.id.startswith("I")]


@pytest.mark.parametrize("component", ["data", "inference", "api"])
def test_template_has_no_cfn_lint_errors(synthesized, component):
    (path,) = synthesized.outdir.glob(f"*-{component}.template.json")
    matches = findings(path.read_text())
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    # W3005 (an explicit DependsOn CDK adds beside a GetAtt) is the only warning, and harmless.
    assert {m.rule.id for m in matches} <= {"W3005"}


def test_cfn_lint_catches_a_broken_property(synthesized):
    """Guards the guard: a misspelt property must be reported as an error."""
    (path,) = synthesized.outdir.glob("*-inference.template.json")
    broken = path.read_text().replace('"InitialVariantWeight"', '"InitialVariantWieght"', 1)
    assert any(m.rule.id.startswith("E") for m in findings(broken))
