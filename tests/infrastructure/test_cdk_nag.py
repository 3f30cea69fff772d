"""cdk-nag AwsSolutions runs on every synth: zero unacknowledged findings, and every
acknowledgement covers a finding that really exists (none is stale or too broad)."""

import json
from unittest import mock

import pytest

from tests.conftest import TEST_CONFIG, synthesize


def acknowledgements(outdir) -> dict[tuple[str, str], str]:
    found = {}
    for path in outdir.glob("*.metadata.json"):
        for construct, entries in json.loads(path.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for rule, reason in entry["data"].items():
                        found[(construct, rule.removeprefix("Annotation::"))] = reason
    return found


def test_the_app_synthesizes_with_no_unacknowledged_findings(synthesized):
    # The session synth would have raised ValidationFailed on any finding.
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_every_acknowledgement_has_a_real_reason(synthesized):
    acks = acknowledgements(synthesized.outdir)
    assert len(acks) >= 8
    for (construct, rule), reason in acks.items():
        assert rule.startswith("AwsSolutions-"), rule
        assert len(reason.split()) >= 8, (construct, rule, reason)


@pytest.fixture(scope="module")
def unacknowledged_findings(tmp_path_factory):
    """Synthesize with acknowledgements switched off and collect what cdk-nag reports."""
    outdir = tmp_path_factory.mktemp("nag-off")
    from aws_cdk import Validations as RealValidations

    class AcknowledgeNothing:
        """Stands in for stacks.nag's Validations: plugins as usual, acknowledgements dropped."""

        @staticmethod
        def of(scope):
            return mock.Mock(add_plugins=RealValidations.of(scope).add_plugins,
                             acknowledge=lambda *rules: None)

    with mock.patch("stacks.nag.Validations", AcknowledgeNothing), \
            pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(TEST_CONFIG, outdir)
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        ("/" + c["constructPath"].removesuffix("/Resource"), v["ruleName"])
        for plugin in report["pluginReports"] for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }, report


def test_each_acknowledgement_matches_exactly_one_real_finding(synthesized, unacknowledged_findings):
    findings, report = unacknowledged_findings
    acks = set(acknowledgements(synthesized.outdir))
    assert acks, "no acknowledgements found"
    assert acks == findings, json.dumps(report, indent=1)[:3000]
