"""One test per refusal message of the config and the manifest, and the listing that keeps it so.

``CONFIG_REFUSALS`` and ``MANIFEST_REFUSALS`` hold, for every message contract/config.py,
contract/manifest.py (with the feature parsing of contract/encoding.py and the file reading of
contract/documents.py) can refuse with, an input that triggers it and the exact message. The
listing tests read those modules' source (ast) for every place a refusal is written, turn each
message into a pattern (its literal text, anything for each ``{value}``) and fail when a place
has no case here: a new refusal without a test fails the suite, and so does a case whose
message no longer exists.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract import manifest, model_record
from contract.config import ConfigError, load_config, parse_config
from contract.encoding import parse_spec
from contract.manifest import ManifestError
from contract.model_record import RegistryRef
from tests.config.test_config import CHALLENGER, CHAMPION, base
from tests.config.test_model_record import challenger_record, champion_record
from tests.conftest import FIXTURES, ROOT

ARTIFACT = FIXTURES / "manifests" / "challenger" / "model.tar.gz"


def edit(*changes: tuple[str, Any], delete: tuple[str, ...] = (), start: Callable[[], dict] = base
         ) -> Callable[[Path], dict[str, Any]]:
    """A config builder: ``start()`` with each dotted path set (``variants.0.weight``) or deleted."""
    def build(_: Path) -> dict[str, Any]:
        raw = copy.deepcopy(start())
        for path, value in changes:
            *parents, last = path.split(".")
            node: Any = raw
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        for path in delete:
            *parents, last = path.split(".")
            node = raw
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            del node[last]
        return raw
    return build


def guarded() -> dict[str, Any]:
    raw = base()
    raw["endpoint"] = {"rollout": {"strategy": "canary", "guardrails": True,
                                   "variant_slots": ["champion", "challenger"]}}
    return raw


def serverless() -> dict[str, Any]:
    raw = base()
    raw["variants"] = [{"name": "champion", "manifest": CHAMPION, "weight": 1,
                        "serverless": {"memory_mb": 2048, "max_concurrency": 20}}]
    raw["endpoint"] = {"volume_kms": False}
    return raw


def with_manifest(*indices: int, artifact: bool = True, **changes: Any) -> Callable[[Path], dict[str, Any]]:
    """base() with the variants at ``indices`` on copies of the challenger's fixture manifest
    changed by ``changes``, in tmp (run<index>/manifest.json)."""
    def build(tmp: Path) -> dict[str, Any]:
        raw = base()
        for index in indices:
            directory = tmp / f"run{index}"
            directory.mkdir()
            data = {**json.loads((ROOT / CHALLENGER).read_text()), **changes}
            (directory / "manifest.json").write_text(json.dumps(data))
            if artifact:
                shutil.copy(ARTIFACT, directory)
            raw["variants"][index]["manifest"] = str(directory / "manifest.json")
        return raw
    return build


def with_records(*, champion: dict[str, Any] | None = None, challenger: dict[str, Any] | None = None,
                 approved: bool = True, **endpoint: Any) -> Callable[[Path], dict[str, Any]]:
    """Variants on model records written to tmp/models: both approved in the registry, or the
    challenger pending approval; ``champion``/``challenger`` replace a variant's record setting."""
    def build(tmp: Path) -> dict[str, Any]:
        package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/xgb-demo-models/{}"
        pending = challenger_record()
        records = [champion_record(registry=RegistryRef(package.format(3), "Approved")),
                   dataclasses.replace(pending, registry=RegistryRef(package.format(2), "Approved"))
                   if approved else pending]
        for record in records:
            model_record.write(record, model_record.record_path(record.variant, tmp / "models"))
        raw = base()
        for variant, given in zip(raw["variants"], (champion, challenger), strict=True):
            del variant["manifest"]
            variant.update(given or {"record": str(tmp / "models" / f"{variant['name']}.json")})
        if endpoint:
            raw["endpoint"] = endpoint
        return raw
    return build


def toml_file(text: str | None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        path = tmp / "config.toml"
        if text is not None:
            path.write_text(text)
        return path
    return build


LONG_FEATURES = [{"name": f"feature_{i:03d}_" + "x" * 100, "type": "numeric"} for i in range(40)]
SLOT_TEXT = ("a guarded blue/green rollout must keep the deployed variant names (they are slots: put "
             "the new model in an existing slot via its manifest). To add, remove or rename a variant, "
             'deploy that change with strategy = "none" and guardrails = false (a blue/green update '
             "must keep the variant names), then set variant_slots to the new names and restore the "
             "strategy and guardrails")

# id, builder (tmp_path -> raw config, or the path of a TOML file), the exact problem ({tmp}: tmp_path)
CONFIG_REFUSALS: list[tuple[str, Callable[[Path], Any], str]] = [
    ("file not found", toml_file(None),
     "file not found; copy config/default.toml and edit it, or name another config (--config PATH; "
     "cdk: -c config=PATH)"),
    ("invalid toml", toml_file("[project\n"),
     "is not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"),
    ("prefix", edit(("project.prefix", "Bad_Prefix")),
     "project.prefix: 'Bad_Prefix' must be 2-24 characters of lowercase letters, digits and hyphens, "
     "starting with a letter (it names stacks and the endpoint)"),
    ("account", edit(("project.account", 123456789012)),
     "project.account: 123456789012 must be a 12-digit AWS account id as a string, or left out for an "
     "environment-agnostic app"),
    ("region", edit(("project.region", "useast1")),
     "project.region: 'useast1' must be a region name like us-east-1, or left out for an "
     "environment-agnostic app"),
    ("volume_kms", edit(("endpoint.volume_kms", "yes")), "endpoint.volume_kms: must be true or false"),
    ("require_approved_models", edit(("endpoint.require_approved_models", 1)),
     "endpoint.require_approved_models: must be true or false"),
    ("not a table", edit(("api", "iam")), "api: must be a table ([api])"),
    ("unknown setting", edit(("project.name", "x")),
     "project.name: unknown setting; allowed here: account, prefix, region"),
    ("auth mode", edit(("api.auth", "cognito")), "api.auth: 'cognito' must be one of iam, api_key, none"),
    ("auth none", edit(("api.auth", "none")),
     'api.auth: "none" leaves the prediction API open to the internet; also set '
     "api.allow_unauthenticated = true to confirm, or use iam/api_key"),
    ("throttle rate", edit(("api.throttle_rate_limit", 0)),
     "api.throttle_rate_limit: 0 must be a number of requests per second in (0, 10000] (the "
     "account's default API Gateway limit)"),
    ("throttle burst", edit(("api.throttle_burst_limit", 5001)),
     "api.throttle_burst_limit: 5001 must be a whole number in (0, 5000]"),
    ("log retention", edit(("api.log_retention_days", 2)),
     "api.log_retention_days: 2 is not a CloudWatch Logs retention period; use one of 1, 3, 5, 7, 14, "
     "30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
    ("no variants", edit(("variants", [])), "variants: at least one [[variants]] entry is required"),
    ("too many variants", lambda tmp: {**base(), "variants": [
        dict(base()["variants"][0], name=f"v{i}") for i in range(11)]},
     "variants: 11 variants configured; SageMaker allows at most 10 per endpoint config"),
    ("variant not a table", edit(("variants.1", "challenger")),
     "variants[1]: must be a table ([[variants]])"),
    ("variant name", edit(("variants.0.name", "champ ion")),
     "variants[0].name: 'champ ion' is not a SageMaker variant name: 1-63 letters, digits and single "
     "hyphens, starting and ending alphanumeric"),
    ("duplicate name", edit(("variants.1.name", "Champion")),
     "variants[1].name: 'Champion' duplicates variants[0]; variant names must be unique "
     "(case-insensitive)"),
    ("manifest and record", edit(("variants.0.record", "models/champion.json")),
     'variants[0]: manifest and record exclude each other; keep record = "models/<variant>.json" (a '
     'promoted model, for deploys) or manifest = "runs/<variant>/latest/manifest.json" (a local run, '
     "for development)"),
    ("record path", edit(("variants.0.record", "models/champion.toml"), delete=("variants.0.manifest",)),
     "variants[0].record: 'models/champion.toml' must be the path of the variant's model record, e.g. "
     '"models/<variant>.json" (xgbapi promote writes it)'),
    ("manifest path", edit(("variants.0.manifest", "")),
     "variants[0].manifest: must be the path of the variant's manifest.json"),
    ("no model", edit(delete=("variants.0.manifest",)),
     'variants[0]: names no model; add record = "models/<variant>.json" (a promoted model, written by '
     'xgbapi promote) or manifest = "runs/<variant>/latest/manifest.json" (a local run)'),
    ("weight", edit(("variants.1.weight", -0.3)),
     "variants[1].weight: -0.3 must be a number >= 0 (weights are relative shares of traffic)"),
    ("instance type", edit(("variants.0.instance_type", "m5.large")),
     "variants[0].instance_type: 'm5.large' is not a SageMaker instance type; use the form "
     "ml.<family>.<size>, e.g. ml.m5.large"),
    ("nvme with kms", edit(("variants.0.instance_type", "ml.g4dn.xlarge")),
     "variants[0].instance_type: ml.g4dn.xlarge has NVMe instance storage, which SageMaker encrypts in "
     "hardware and for which it rejects a KMS volume key; pick an EBS-only type (e.g. ml.m5.large) or "
     "set endpoint.volume_kms = false"),
    ("instance count", edit(("variants.0.instance_count", 0)),
     "variants[0].instance_count: 0 must be a whole number >= 1"),
    ("all weights zero", edit(("variants.0.weight", 0), ("variants.1.weight", 0)),
     "variants: every weight is 0, so no variant would receive traffic; give at least one variant a "
     "positive weight"),
    ("serverless not a table", edit(("variants.0.serverless", 2048), start=serverless),
     "variants[0].serverless: must be a table like {memory_mb = 2048, max_concurrency = 20}"),
    ("serverless with instances", edit(("variants.0.instance_count", 1), start=serverless),
     "variants[0]: serverless and instance_count exclude each other (a serverless variant has no "
     "instances to size or autoscale); remove one or the other"),
    ("serverless memory", edit(("variants.0.serverless.memory_mb", 1500), start=serverless),
     "variants[0].serverless.memory_mb: 1500 must be one of 1024, 2048, 3072, 4096, 5120, 6144 "
     "(SageMaker's 1 GB steps)"),
    ("serverless concurrency", edit(("variants.0.serverless.max_concurrency", 201), start=serverless),
     "variants[0].serverless.max_concurrency: 201 must be a whole number in 1-200"),
    ("autoscaling incomplete", edit(("variants.0.max_instances", 3)),
     "variants[0].target_invocations_per_instance: autoscaling needs max_instances and "
     "target_invocations_per_instance (min_instances defaults to 1); set it"),
    ("min instances", edit(("variants.0.min_instances", 0), ("variants.0.max_instances", 2),
                           ("variants.0.target_invocations_per_instance", 100)),
     "variants[0].min_instances: 0 must be a whole number >= 1"),
    ("max instances", edit(("variants.0.max_instances", 0),
                           ("variants.0.target_invocations_per_instance", 100)),
     "variants[0].max_instances: 0 must be a whole number >= 1"),
    ("target invocations", edit(("variants.0.max_instances", 2),
                                ("variants.0.target_invocations_per_instance", 0)),
     "variants[0].target_invocations_per_instance: 0 must be a number > 0 (invocations per instance "
     "per minute)"),
    ("count outside autoscaling", edit(("variants.0.instance_count", 5), ("variants.0.max_instances", 3),
                                       ("variants.0.target_invocations_per_instance", 100)),
     "variants[0]: instance_count 5 must lie within min_instances 1 and max_instances 3; it is the "
     "count the variant starts with"),
    ("step size", edit(("endpoint.rollout.canary_size", "half"), start=guarded),
     "endpoint.rollout.canary_size: 'half' must be a percentage of the new fleet like \"20%\" or a "
     "whole number of instances like 1"),
    ("rollout seconds", edit(("endpoint.rollout.wait_seconds", 3601), start=guarded),
     "endpoint.rollout.wait_seconds: 3601 must be a whole number of seconds in 0-3600 (SageMaker's "
     "limit)"),
    ("strategy", edit(("endpoint.rollout.strategy", "blue_green"), start=guarded),
     "endpoint.rollout.strategy: 'blue_green' must be one of all_at_once, canary, linear, none"),
    ("step for another strategy", edit(("endpoint.rollout.linear_step_size", "20%"), start=guarded),
     'endpoint.rollout.linear_step_size: only applies to strategy = "linear"; remove it or set the '
     "strategy"),
    ("canary percent", edit(("endpoint.rollout.canary_size", "60%"), start=guarded),
     "endpoint.rollout.canary_size: 60% is over SageMaker's limit; a canary is at most 50% of the new "
     "fleet"),
    ("linear percent", edit(("endpoint.rollout.strategy", "linear"),
                            ("endpoint.rollout.linear_step_size", "5%"), start=guarded),
     "endpoint.rollout.linear_step_size: 5% is outside SageMaker's limits; each linear step is 10-50% "
     "of the new fleet"),
    ("guardrails flag", edit(("endpoint.rollout.guardrails", "on"), start=guarded),
     "endpoint.rollout.guardrails: must be true or false"),
    ("variant slots type", edit(("endpoint.rollout.variant_slots", "champion"),
                                ("endpoint.rollout.guardrails", False), start=guarded),
     'endpoint.rollout.variant_slots: must be a list of variant names, e.g. ["champion", "challenger"]'),
    ("5xx alarm", edit(("endpoint.rollout.alarm_5xx_errors", 0), start=guarded),
     "endpoint.rollout.alarm_5xx_errors: 0 must be a whole number >= 1 (5XX errors per minute that "
     "trip the rollback alarm)"),
    ("latency alarm", edit(("endpoint.rollout.alarm_model_latency_ms", 90000), start=guarded),
     "endpoint.rollout.alarm_model_latency_ms: 90000 must be a number of milliseconds in (0, 60000] "
     "(the container must answer within 60 s)"),
    ("capture sampling", edit(("endpoint.data_capture.sampling_percentage", 101)),
     "endpoint.data_capture.sampling_percentage: 101 must be a whole number in 0-100"),
    ("capture prefix", edit(("endpoint.data_capture.prefix", "captures/")),
     "endpoint.data_capture.prefix: 'captures/' must be a key prefix under data-capture/ of the data "
     'bucket ending in /, e.g. "data-capture/" (the execution role may write only there)'),
    ("capture kms", edit(("endpoint.data_capture.kms", "no")),
     "endpoint.data_capture.kms: must be true or false"),
    ("serverless among several", lambda tmp: {**serverless(), "variants": [
        *serverless()["variants"], base()["variants"][1]]},
     "variants: champion is serverless, and SageMaker does not support multiple production variants "
     "on a serverless endpoint; use one serverless variant, or instance variants for an A/B test"),
    ("serverless kms", edit(delete=("endpoint.volume_kms",), start=serverless),
     "endpoint.volume_kms: SageMaker rejects a KMS volume key (KmsKeyId) for an endpoint config of "
     "serverless variants (champion); set endpoint.volume_kms = false (serverless storage is "
     "AWS-managed)"),
    ("serverless capture", edit(("endpoint.data_capture.sampling_percentage", 10), start=serverless),
     "endpoint.data_capture: SageMaker does not support data capture on serverless endpoints "
     "(champion); remove [endpoint.data_capture] or use an instance variant"),
    ("serverless instance step", edit(("endpoint.rollout.strategy", "canary"),
                                      ("endpoint.rollout.canary_size", 1), start=serverless),
     "endpoint.rollout: a canary step of 1 instance(s) cannot apply to serverless variants "
     '(champion), which have no instances; give the step as a percentage like "20%" or use '
     'strategy = "all_at_once"'),
    ("canary instances", edit(("endpoint.rollout.canary_size", 1), start=guarded),
     "endpoint.rollout.canary_size: 1 instance(s) is more than 50% of the smallest variant's 1 "
     'instance(s), SageMaker\'s canary limit; use a percentage like "10%" or more instances'),
    ("linear instances", edit(("endpoint.rollout.strategy", "linear"),
                              ("endpoint.rollout.linear_step_size", 2), start=guarded),
     "endpoint.rollout.linear_step_size: 2 instance(s) must be 10-50% of every variant's instances "
     "(1-1), SageMaker's linear step limit; use a percentage like \"20%\""),
    ("guardrails without policy", edit(("endpoint.rollout.strategy", "none"), start=guarded),
     'endpoint.rollout.guardrails: auto-rollback is part of a blue/green deployment policy, which '
     'strategy = "none" leaves out; set guardrails = false for that deploy, or pick all_at_once, '
     "canary or linear"),
    ("guardrails alarms", lambda tmp: {**guarded(), "variants": [
        dict(base()["variants"][0], name=f"v{i}") for i in range(6)], "endpoint": {"rollout": {
            **guarded()["endpoint"]["rollout"], "variant_slots": [f"v{i}" for i in range(6)]}}},
     "endpoint.rollout.guardrails: 6 variants need 12 rollback alarms; SageMaker watches at most 10; "
     "use at most 5 variants or guardrails = false"),
    ("slots not recorded", edit(delete=("endpoint.rollout.variant_slots",), start=guarded),
     "endpoint.rollout.variant_slots: guardrails are on, so record the deployed variant names: add "
     'variant_slots = ["champion", "challenger"] to [endpoint.rollout] and commit it'),
    ("renamed variant", edit(("variants.1.name", "challenger-v2"), start=guarded),
     'variants: names ["champion", "challenger-v2"] differ from endpoint.rollout.variant_slots '
     f'["champion", "challenger"] (added ["challenger-v2"], removed ["challenger"]); {SLOT_TEXT}'),
    ("added variant", lambda tmp: {**guarded(), "variants": [
        *base()["variants"], dict(base()["variants"][1], name="canary", weight=0.1)]},
     'variants: names ["champion", "challenger", "canary"] differ from endpoint.rollout.variant_slots '
     f'["champion", "challenger"] (added ["canary"], removed []); {SLOT_TEXT}'),
    ("removed variant", lambda tmp: {**guarded(), "variants": base()["variants"][:1]},
     'variants: names ["champion"] differ from endpoint.rollout.variant_slots ["champion", '
     f'"challenger"] (added [], removed ["challenger"]); {SLOT_TEXT}'),
    ("record unreadable", with_records(challenger={"record": "models/nowhere.json"}),
     "variants[1].record: {root}/models/nowhere.json: <file>: does not exist; promote the variant first "
     "(xgbapi promote --variant <name>) or fix the path"),
    ("record for another variant", with_records(champion={"record": "{tmp}/models/challenger.json"}),
     "variants[0].record: {tmp}/models/challenger.json was promoted for variant 'challenger', not "
     "'champion'; promote the model for this slot (xgbapi promote --variant champion --run <run "
     "directory>) or fix the path"),
    ("manifest unreadable", edit(("variants.1.manifest", "runs/nowhere/manifest.json")),
     "variants[1].manifest: {root}/runs/nowhere/manifest.json: <file>: does not exist; train this "
     "variant first (make train) or fix the path"),
    ("regions differ", with_manifest(1, region="eu-west-1",
                                     image_uri="683313688378.dkr.ecr.eu-west-1.amazonaws.com/"
                                               "sagemaker-xgboost:3.0-5"),
     "variants[1].manifest: trained for region eu-west-1 but champion for us-east-1; an endpoint "
     "serves images and model data from its own region only"),
    ("project region", edit(("project.region", "eu-west-1")),
     "project.region: eu-west-1 differs from the models' region us-east-1; retrain for eu-west-1 or "
     "deploy to us-east-1"),
    ("artifact missing", with_manifest(1, artifact=False),
     "{tmp}/run1/manifest.json: artifact {tmp}/run1/model.tar.gz does not exist and model_data is "
     "empty; re-run training for this variant"),
    ("approved: a run", with_records(challenger={"manifest": CHALLENGER}, require_approved_models=True),
     "variants[1]: challenger uses a run ({root}/tests/fixtures/manifests/challenger/manifest.json), "
     "and endpoint.require_approved_models = true serves only approved model records; promote it "
     "(xgbapi promote --variant challenger --register), approve the package, run xgbapi "
     'refresh-approval --variant challenger and name the record (record = "models/challenger.json")'),
    ("approved: not registered", with_records(approved=False, require_approved_models=True),
     "variants[1].record: challenger's model package is PendingManualApproval, not Approved, and "
     "endpoint.require_approved_models = true serves only approved models; approve "
     "arn:aws:sagemaker:us-east-1:123456789012:model-package/xgb-demo-models/1 in the model registry, "
     "then run xgbapi refresh-approval --variant challenger and commit {tmp}/models/challenger.json"),
    ("approved: no registry entry", lambda tmp: _unregistered(tmp),
     "variants[0].record: champion's record {tmp}/models/champion.json has no model registry entry "
     "(status: not registered), and endpoint.require_approved_models = true serves only approved "
     "models; promote it again with --register (xgbapi promote --variant champion --register), "
     "approve the package, then run xgbapi refresh-approval --variant champion"),
    ("lambda environment", with_manifest(0, 1, features=LONG_FEATURES),
     "features: the feature list needs about 4921 bytes of Lambda environment, over Lambda's "
     "4096-byte limit; use fewer or shorter feature names"),
]


def _unregistered(tmp: Path) -> dict[str, Any]:
    raw = with_records(require_approved_models=True)(tmp)
    model_record.write(champion_record(), tmp / "models" / "champion.json")  # no registry entry
    return raw


def config_problems(case: Callable[[Path], Any], tmp_path: Path) -> list[str]:
    built = case(tmp_path)
    with pytest.raises(ConfigError) as caught:
        if isinstance(built, Path):
            load_config(built)
        else:
            text = json.dumps(built).replace("{tmp}", str(tmp_path))
            parse_config(json.loads(text), source="test.toml", base_dir=ROOT)
    return caught.value.problems


@pytest.mark.parametrize(("build", "message"), [c[1:] for c in CONFIG_REFUSALS],
                         ids=[c[0] for c in CONFIG_REFUSALS])
def test_each_config_refusal(build, message, tmp_path):
    expected = message.replace("{tmp}", str(tmp_path)).replace("{root}", str(ROOT))
    assert config_problems(build, tmp_path) == [expected]


# change to the challenger fixture manifest, the exact "<field>: <problem>" (after "<path>: ")
MANIFEST_REFUSALS: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], "<top level>: must be a JSON object"),
    ("field missing", {"image_uri": None},
     "image_uri: is missing; re-run training to write a full manifest"),
    ("wrong type", {"schema_version": True}, "schema_version: has the wrong type (bool)"),
    ("schema version 0", {"schema_version": 0},
     "schema_version: is 0, this tool reads versions 1..2; upgrade the project to read newer manifests"),
    ("schema version 3", {"schema_version": 3},
     "schema_version: is 3, this tool reads versions 1..2; upgrade the project to read newer manifests"),
    ("source kind", {"source": {"kind": "laptop", "run_id": "r"}},
     "source.kind: must be one of local, sagemaker-training, sagemaker-tuning"),
    ("run id", {"source": {"kind": "local", "run_id": ""}}, "source.run_id: must be a non-empty string"),
    ("job name", {"source": {"kind": "sagemaker-tuning", "run_id": "r"}},
     "source.job_name: is required for a sagemaker-tuning model"),
    ("framework version", {"framework_version": "0.90-2"},
     "framework_version: '0.90-2' is not one of 1.7-1, 3.0-5"),
    ("image region", {"image_uri": "683313688378.dkr.ecr.eu-west-1.amazonaws.com/x:1"},
     "image_uri: is not an ECR image in the manifest's region us-east-1"),
    ("model data", {"model_data": "http://x/y"}, "model_data: must be an s3://bucket/key URI or null"),
    ("artifact", {"artifact": ""}, "artifact: must be a relative path or null"),
    ("no model", {"model_data": None, "artifact": None},
     "model_data: and artifact are both empty; the manifest points at no model"),
    ("raw field in version 1", {"features": [{"name": "t", "type": "text"}]},
     "features[0].type: 'text' is not supported by schema version 1 (numeric only); write "
     "schema_version 2"),
    ("input format", {"schema_version": 2, "input_format": "parquet"},
     "input_format: 'parquet' is not one of csv, libsvm"),
    ("target is a feature", {"target": "f1"}, "target: 'f1' is also listed as a feature"),
    ("hyperparameters", {"hyperparameters": {"max_depth": 5}},
     "hyperparameters: must map names to strings (SageMaker's form)"),
    ("metrics", {"metrics": {"rmse": float("inf")}}, "metrics: must map names to finite numbers"),
    ("no features", {"features": []}, "features: is empty; a model needs at least one feature"),
    ("feature name", {"features": [{"name": "a b"}]},
     "features[0].name: 'a b' must be 1-128 printable characters without spaces, commas or quotes"),
    # contract/encoding.py parse_fields, reported as the manifest's field
    ("features not a list", {"features": {"name": "a"}}, "features: has the wrong type (dict)"),
    ("feature not an object", {"features": ["f0"]},
     'features[0]: must be an object like {"name": ..., "type": "numeric"}'),
    ("feature twice", {"features": [{"name": "a"}, {"name": "a"}]}, "features[1].name: 'a' appears twice"),
    ("feature kind", {"schema_version": 2, "features": [{"name": "d", "type": "date"}]},
     "features[0].type: 'date' is not one of numeric, categorical, text"),
    ("categories", {"schema_version": 2, "features": [
        {"name": "c", "type": "categorical", "categories": ["a", "a"]}]},
     "features[0].categories: must be a list of unique non-empty strings"),
    ("unseen", {"schema_version": 2, "features": [
        {"name": "c", "type": "categorical", "categories": ["a"], "unseen": "drop"}]},
     "features[0].unseen: must be one of other, reject"),
    ("tokenizer", {"schema_version": 2, "features": [{"name": "t", "type": "text", "tokenizer": "bpe"}]},
     "features[0].tokenizer: 'bpe' is not the tokenizer this version runs (words-1); prepare and "
     "train again"),
    ("vocabulary", {"schema_version": 2, "features": [
        {"name": "t", "type": "text", "tokenizer": "words-1", "vocabulary": []}]},
     "features[0].vocabulary: must be a non-empty list of unique tokens"),
    ("values", {"schema_version": 2, "features": [
        {"name": "t", "type": "text", "tokenizer": "words-1", "vocabulary": ["a"], "values": "tfidf"}]},
     "features[0].values: must be counts or binary"),
    ("max chars", {"schema_version": 2, "features": [
        {"name": "t", "type": "text", "tokenizer": "words-1", "vocabulary": ["a"], "max_chars": 0}]},
     "features[0].max_chars: must be a positive integer"),
    ("stop words", {"schema_version": 2, "features": [
        {"name": "t", "type": "text", "tokenizer": "words-1", "vocabulary": ["a"], "stop_words": "yes"}]},
     "features[0].stop_words: must be true or false"),
]
CHALLENGER_DATA = json.loads((ROOT / CHALLENGER).read_text())


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in MANIFEST_REFUSALS],
                         ids=[c[0] for c in MANIFEST_REFUSALS])
def test_each_manifest_refusal(change, message):
    data = {**CHALLENGER_DATA, **change} if isinstance(change, dict) else change
    with pytest.raises(ManifestError) as caught:
        manifest.parse(data, "m.json")
    assert str(caught.value) == f"m.json: {message}"
    assert (caught.value.field, caught.value.problem) == tuple(message.split(": ", 1))


# A manifest file that cannot be read (contract/documents.py read_json): the exact message.
FILE_REFUSALS: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing", lambda tmp: tmp / "manifest.json",
     "<file>: does not exist; train this variant first (make train) or fix the path"),
    ("a directory", lambda tmp: _directory(tmp), "<file>: is a directory; name the file itself"),
    ("unreadable", lambda tmp: _written(tmp, "").parent / "manifest.json" / "manifest.json",
     "<file>: cannot be read (Not a directory)"),
    ("not json", lambda tmp: _written(tmp, '{"schema_version": 1,'),
     "<file>: is not valid JSON (line 1, column 22: Expecting property name enclosed in double quotes)"),
]


def _written(tmp: Path, text: str) -> Path:
    (tmp / "manifest.json").write_text(text)
    return tmp / "manifest.json"


def _directory(tmp: Path) -> Path:
    (tmp / "manifest.json").mkdir()  # a run directory whose manifest.json is a directory
    return tmp


@pytest.mark.parametrize(("build", "message"), [c[1:] for c in FILE_REFUSALS],
                         ids=[c[0] for c in FILE_REFUSALS])
def test_each_manifest_file_refusal(build, message, tmp_path):
    path = build(tmp_path)
    with pytest.raises(ManifestError) as caught:
        manifest.load(path)
    read = path / "manifest.json" if path.is_dir() else path
    assert str(caught.value) == f"{read}: {message}"


# parse_fields' own check of the list: the manifest's type check comes first, an input spec
# file (contract/encoding.py parse_spec) reaches it.
FIELDS_NOT_A_LIST = "input.fields: must be a non-empty list of fields"


def test_a_field_list_that_is_not_a_list():
    with pytest.raises(ValueError) as caught:
        parse_spec({"format": "csv", "fields": []})
    assert str(caught.value) == FIELDS_NOT_A_LIST


# --- the listing ----------------------------------------------------------------------------

def _pattern(node: ast.expr) -> str:
    """A message expression as a regex: its literal text, ``.+`` for every value put in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(part.value) if isinstance(part, ast.Constant) else ".+"
                       for part in node.values)
    return ".+"


def refusal_sites(module: str, function: str | None = None) -> dict[str, str]:
    """``module:line`` -> the pattern of every refusal written there (within ``function``)."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    if function is not None:
        (tree,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, where = node.func, f"{module}:{node.lineno}"
        if (isinstance(func, ast.Attribute) and func.attr == "append" and isinstance(func.value, ast.Name)
                and func.value.id == "problems"):
            found[where] = _pattern(node.args[0])
        elif isinstance(func, ast.Name) and func.id == "ConfigError" and isinstance(node.args[1], ast.List):
            (message,) = node.args[1].elts
            found[where] = _pattern(message)
        elif isinstance(func, ast.Name) and func.id in ("ManifestError", "error") and len(node.args) == 3:
            found[where] = f"{_pattern(node.args[1])}: {_pattern(node.args[2])}"
        elif isinstance(func, ast.Name) and func.id == "ValueError" and node.args:
            found[where] = _pattern(node.args[0])
    return found


def uncovered(sites: dict[str, str], messages: list[str]) -> tuple[list[str], list[str]]:
    """Sites no message is the closest match of, and messages that match no site.

    A message may fit several patterns (``.+`` is loose): it counts for the one with the most
    literal text, so a generic pattern does not pass for a specific refusal.
    """
    # A site with no text of its own passes another module's message on (manifest errors of
    # the feature parser): the messages it passes are listed where they are written.
    sites = {where: p for where, p in sites.items() if re.sub(r"\.\+|\\.|[^A-Za-z]", "", p)}
    covered: set[str] = set()
    orphans = []
    for message in messages:
        fitting = [where for where, pattern in sites.items() if re.fullmatch(pattern, message, re.DOTALL)]
        if not fitting:
            orphans.append(message)
            continue
        covered.add(max(fitting, key=lambda where: len(sites[where].replace(".+", ""))))
    return sorted(set(sites) - covered), orphans


def test_every_config_refusal_has_a_test(tmp_path):
    sites = refusal_sites("contract/config.py")
    assert len(sites) >= 70  # the scan still finds the refusals (problems.append, ConfigError)
    messages = [m.replace("{tmp}", "/tmp/x").replace("{root}", str(ROOT)) for _, _, m in CONFIG_REFUSALS]
    missing, orphans = uncovered(sites, messages)
    assert not missing, "refusals without a case in CONFIG_REFUSALS: " + ", ".join(missing)
    assert not orphans, f"cases whose message the config no longer writes: {orphans}"


def test_every_manifest_refusal_has_a_test():
    sites = {**refusal_sites("contract/manifest.py"),
             **refusal_sites("contract/encoding.py", "parse_fields"),
             **refusal_sites("contract/documents.py", "read_json")}
    assert len(sites) >= 35
    messages = [m for _, _, m in MANIFEST_REFUSALS] + [m for _, _, m in FILE_REFUSALS] + [FIELDS_NOT_A_LIST]
    missing, orphans = uncovered(sites, messages)
    assert not missing, "refusals without a case in MANIFEST_REFUSALS: " + ", ".join(missing)
    assert not orphans, f"cases whose message the manifest no longer writes: {orphans}"
