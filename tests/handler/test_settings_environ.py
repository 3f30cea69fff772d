"""The Lambda's settings as read from literal environments: every attribute, every default, each
variable's parsing and the exact ``config_error`` of each misconfiguration (and the 500 the
handler answers for one, without calling the endpoint).

``Settings.from_environ`` is pure (a dict in, the settings out); spec files live in tmp_path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from contract.encoding import Field, InputSpec
from contract.limits import ENDPOINT_BODY_LIMIT_BYTES, MAX_ROWS_PER_REQUEST
from local.lambda_host import load_service
from tests.handler.support import BASE_ENV, call, event

# isort: split
# The asset's modules: importable once local.lambda_host has put the asset on sys.path.
from preprocessing.settings import ASSET_ROOT, Settings

# Non-ASCII on purpose: the file must be read as UTF-8 whatever the locale.
SPEC = InputSpec((Field("size"), Field("island", "categorical", categories=("Biscoe", "Zürich")),
                  Field("review", "text", vocabulary=("good", "café"), max_chars=100)), "csv")
OTHER_SPEC = InputSpec((Field("a"), Field("b", "categorical", categories=("x",))), "libsvm")

FEATURES_JSON = '["f0", "f1"]'
FEATURES_ERROR = "FEATURE_NAMES must be a non-empty list of unique names"
VARIANTS_ERROR = "VARIANTS must be a JSON list of {name, weight >= 0[, spec]}"
VARIANTS_COUNT_ERROR = "VARIANTS must name at least one variant, each once"

# What a Lambda with only the two required variables gets.
DEFAULTS: dict[str, Any] = {
    "endpoint_name": "xgb", "feature_names": ("f0", "f1"), "config_error": "",
    "input_spec": None, "variants": (), "weights_ttl_seconds": 30, "sagemaker_api_url": "",
    "max_rows": MAX_ROWS_PER_REQUEST, "max_body_bytes": ENDPOINT_BODY_LIMIT_BYTES,
    "null_policy": "missing", "endpoint_accept": "text/csv", "connect_timeout_seconds": 1,
    "read_timeout_seconds": 10, "max_attempts": 2,
}
MINIMAL = {"ENDPOINT_NAME": "xgb", "FEATURE_NAMES": FEATURES_JSON}


def attributes(settings: Settings) -> dict[str, Any]:
    """Every attribute; a variant as (name, weight, spec)."""
    values = {name: getattr(settings, name) for name in Settings.__slots__}
    values["variants"] = tuple((v.name, v.weight, v.spec) for v in settings.variants)
    return values


def read(**env: str) -> dict[str, Any]:
    return attributes(Settings.from_environ(env))


def spec_file(directory: Path, name: str, spec: InputSpec = SPEC) -> Path:
    path = directory / name
    path.write_text(spec.to_json(), encoding="utf-8")
    return path


# --- defaults and plain variables -----------------------------------------------------------

def test_only_the_required_variables_give_the_defaults() -> None:
    assert read(**MINIMAL) == DEFAULTS
    assert Settings.from_environ(MINIMAL).nulls_missing is True


def test_the_constructors_defaults_are_the_environments() -> None:
    built = Settings(endpoint_name="xgb", feature_names=("f0", "f1"), config_error="")
    assert attributes(built) == DEFAULTS


def test_every_optional_variable_is_read() -> None:
    settings = read(**MINIMAL, MAX_ROWS="7", MAX_BODY_BYTES="1234", NULL_POLICY="reject",
                    ENDPOINT_ACCEPT="application/json", CONNECT_TIMEOUT_SECONDS="3",
                    READ_TIMEOUT_SECONDS="20", MAX_ATTEMPTS="5", WEIGHTS_TTL_SECONDS="60",
                    SAGEMAKER_API_URL="http://127.0.0.1:8080")
    assert settings == {**DEFAULTS, "max_rows": 7, "max_body_bytes": 1234, "null_policy": "reject",
                        "endpoint_accept": "application/json", "connect_timeout_seconds": 3,
                        "read_timeout_seconds": 20, "max_attempts": 5, "weights_ttl_seconds": 60,
                        "sagemaker_api_url": "http://127.0.0.1:8080"}


@pytest.mark.parametrize("value", ["abc", "1.5", "", " ", "0x10"])
def test_a_malformed_integer_falls_back_to_its_default_without_an_error(value: str) -> None:
    names = ["MAX_ROWS", "MAX_BODY_BYTES", "CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS",
             "MAX_ATTEMPTS", "WEIGHTS_TTL_SECONDS"]
    assert read(**MINIMAL, **dict.fromkeys(names, value)) == DEFAULTS


def test_integers_are_parsed_as_int_accepts_them() -> None:
    settings = read(**MINIMAL, MAX_ROWS=" 12 ", MAX_ATTEMPTS="+0", READ_TIMEOUT_SECONDS="-1")
    assert (settings["max_rows"], settings["max_attempts"], settings["read_timeout_seconds"]) == (12, 0, -1)


@pytest.mark.parametrize(("value", "policy"), [
    ("missing", "missing"), ("reject", "reject"), ("MISSING", "reject"), ("", "reject"),
    ("anything", "reject"),
])
def test_null_policy(value: str, policy: str) -> None:
    settings = Settings.from_environ({**MINIMAL, "NULL_POLICY": value})
    assert (settings.null_policy, settings.nulls_missing) == (policy, policy == "missing")
    assert settings.config_error == ""


# --- ENDPOINT_NAME ----------------------------------------------------------------------------

@pytest.mark.parametrize("env", [{"FEATURE_NAMES": FEATURES_JSON},
                                 {"FEATURE_NAMES": FEATURES_JSON, "ENDPOINT_NAME": ""}])
def test_no_endpoint_name(env: dict[str, str]) -> None:
    assert read(**env) == {**DEFAULTS, "endpoint_name": "", "config_error": "ENDPOINT_NAME is not set"}


def test_another_error_comes_before_the_missing_endpoint_name() -> None:
    assert read(FEATURE_NAMES="[") == {**DEFAULTS, "endpoint_name": "", "feature_names": (),
                                       "config_error": "FEATURE_NAMES is not JSON"}


# --- FEATURE_NAMES ----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "error"), [
    (None, FEATURES_ERROR),  # neither FEATURE_NAMES nor INPUT_SPEC_FILE nor variants' specs
    ("", "FEATURE_NAMES is not JSON"),
    ("f0,f1", "FEATURE_NAMES is not JSON"),
    ("[", "FEATURE_NAMES is not JSON"),
    ("[]", FEATURES_ERROR),
    ("null", FEATURES_ERROR),
    ('"abc"', FEATURES_ERROR),  # a string of unique characters is no list
    ('{"a": 1}', FEATURES_ERROR),
    ('["a", "a"]', FEATURES_ERROR),
    ('["a", 1]', FEATURES_ERROR),
    ('["a", ""]', FEATURES_ERROR),
    ('["a", null]', FEATURES_ERROR),
    ('[["a"]]', FEATURES_ERROR),  # unhashable names: no TypeError at cold start
    ('["a", {"b": 1}]', FEATURES_ERROR),
])
def test_unusable_feature_names(value: str | None, error: str) -> None:
    env = {"ENDPOINT_NAME": "xgb"} if value is None else {"ENDPOINT_NAME": "xgb", "FEATURE_NAMES": value}
    assert read(**env) == {**DEFAULTS, "feature_names": (), "config_error": error}


def test_feature_names_keep_their_order() -> None:
    settings = read(ENDPOINT_NAME="xgb", FEATURE_NAMES='["z", "a", "m"]')
    assert settings == {**DEFAULTS, "feature_names": ("z", "a", "m")}


# --- INPUT_SPEC_FILE and INPUT_SPEC_DIR -------------------------------------------------------

def test_a_spec_file_relative_to_input_spec_dir(tmp_path: Path) -> None:
    spec_file(tmp_path, "spec.json")
    settings = read(ENDPOINT_NAME="xgb", INPUT_SPEC_FILE="spec.json", INPUT_SPEC_DIR=str(tmp_path))
    assert settings == {**DEFAULTS, "input_spec": SPEC, "feature_names": ("size", "island", "review")}


def test_a_spec_file_comes_before_feature_names(tmp_path: Path) -> None:
    spec_file(tmp_path, "spec.json")
    settings = read(ENDPOINT_NAME="xgb", INPUT_SPEC_FILE="spec.json", INPUT_SPEC_DIR=str(tmp_path),
                    FEATURE_NAMES='["other"]')
    assert settings == {**DEFAULTS, "input_spec": SPEC, "feature_names": ("size", "island", "review")}


def test_an_absolute_spec_file_needs_no_input_spec_dir(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "spec.json")
    assert read(ENDPOINT_NAME="xgb", INPUT_SPEC_FILE=str(path))["input_spec"] == SPEC


def test_an_empty_input_spec_file_is_unset() -> None:
    assert read(**MINIMAL, INPUT_SPEC_FILE="") == DEFAULTS


@pytest.mark.parametrize("spec_dir", [None, ""])
def test_without_input_spec_dir_specs_are_in_the_asset_root(spec_dir: str | None) -> None:
    assert os.path.isfile(os.path.join(ASSET_ROOT, "preprocessing", "settings.py"))
    env = {"ENDPOINT_NAME": "xgb", "INPUT_SPEC_FILE": "no-such-spec.json"}
    if spec_dir is not None:
        env["INPUT_SPEC_DIR"] = spec_dir
    path = os.path.join(ASSET_ROOT, "no-such-spec.json")
    assert read(**env) == {**DEFAULTS, "feature_names": (),
                           "config_error": f"INPUT_SPEC_FILE {path} cannot be read"}


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot be read"),  # no such file
    ("directory", "cannot be read"),
    (b"", "is not a usable input spec (Expecting value: line 1 column 1 (char 0))"),
    (b'{"format": "csv", "fields": []}',
     "is not a usable input spec (input.fields: must be a non-empty list of fields)"),
    (b"[]", "is not a usable input spec (input: must be an object with format and fields)"),
    (b'{"format": "xml", "fields": [{"name": "a"}]}',
     "is not a usable input spec (input.format: 'xml' is not one of csv, libsvm)"),
    (b"\xff{}", "is not a usable input spec "
                "('utf-8' codec can't decode byte 0xff in position 0: invalid start byte)"),
])
def test_an_unusable_spec_file(tmp_path: Path, content: bytes | str | None, reason: str) -> None:
    path = tmp_path / "spec.json"
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    settings = read(**MINIMAL, INPUT_SPEC_FILE="spec.json", INPUT_SPEC_DIR=str(tmp_path))
    assert settings == {**DEFAULTS, "feature_names": (),
                        "config_error": f"INPUT_SPEC_FILE {path} {reason}"}


def test_a_spec_error_comes_before_the_missing_endpoint_name(tmp_path: Path) -> None:
    settings = read(INPUT_SPEC_FILE="nope.json", INPUT_SPEC_DIR=str(tmp_path))
    assert settings["config_error"] == f"INPUT_SPEC_FILE {tmp_path / 'nope.json'} cannot be read"


def test_a_spec_file_is_read_as_utf8_whatever_the_locale(tmp_path: Path, ascii_locale: None) -> None:
    spec_file(tmp_path, "spec.json")
    assert "café".encode() in (tmp_path / "spec.json").read_bytes()
    settings = read(ENDPOINT_NAME="xgb", INPUT_SPEC_FILE="spec.json", INPUT_SPEC_DIR=str(tmp_path))
    assert (settings["config_error"], settings["input_spec"]) == ("", SPEC)


# --- VARIANTS ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, ""])
def test_no_variants(value: str | None) -> None:
    env = dict(MINIMAL) if value is None else {**MINIMAL, "VARIANTS": value}
    assert read(**env) == DEFAULTS


def test_variants_without_specs_share_the_feature_names() -> None:
    variants = [{"name": "champion", "weight": 0.7}, {"name": "challenger", "weight": 0},
                {"name": "shadow", "weight": 2, "spec": ""}]
    settings = Settings.from_environ({**MINIMAL, "VARIANTS": json.dumps(variants)})
    assert attributes(settings) == {**DEFAULTS, "variants": (
        ("champion", 0.7, None), ("challenger", 0.0, None), ("shadow", 2.0, None))}
    assert [type(v.weight) for v in settings.variants] == [float, float, float]


def test_variants_without_specs_need_feature_names() -> None:
    variants = json.dumps([{"name": "champion", "weight": 1}])
    assert read(ENDPOINT_NAME="xgb", VARIANTS=variants) == {
        **DEFAULTS, "feature_names": (), "variants": (("champion", 1.0, None),),
        "config_error": FEATURES_ERROR}


def test_variants_with_their_own_specs_need_no_feature_names(tmp_path: Path) -> None:
    spec_file(tmp_path, "a.json")
    spec_file(tmp_path, "b.json", OTHER_SPEC)
    variants = json.dumps([{"name": "champion", "weight": 1, "spec": "a.json"},
                           {"name": "challenger", "weight": 0.5, "spec": "b.json"}])
    env = {"ENDPOINT_NAME": "xgb", "VARIANTS": variants, "INPUT_SPEC_DIR": str(tmp_path)}
    assert read(**env) == {**DEFAULTS, "feature_names": (), "variants": (
        ("champion", 1.0, SPEC), ("challenger", 0.5, OTHER_SPEC))}
    # FEATURE_NAMES, when set, is still read (and must be usable).
    assert read(**env, FEATURE_NAMES='["x"]')["feature_names"] == ("x",)
    assert read(**env, FEATURE_NAMES="[]")["config_error"] == FEATURES_ERROR


def test_a_variant_without_a_spec_among_variants_with_specs_needs_feature_names(tmp_path: Path) -> None:
    spec_file(tmp_path, "a.json")
    variants = json.dumps([{"name": "champion", "weight": 1, "spec": "a.json"},
                           {"name": "challenger", "weight": 1}])
    settings = read(ENDPOINT_NAME="xgb", VARIANTS=variants, INPUT_SPEC_DIR=str(tmp_path))
    assert settings == {**DEFAULTS, "feature_names": (), "config_error": FEATURES_ERROR,
                        "variants": (("champion", 1.0, SPEC), ("challenger", 1.0, None))}


@pytest.mark.parametrize("value", [
    "not json", "[", "5", "null", '"champion"', '{"name": "champion", "weight": 1}',
    "[1]", "[null]", '[["champion", 1]]',
    '[{"weight": 1}]', '[{"name": "champion"}]',
    '[{"name": "", "weight": 1}]', '[{"name": 5, "weight": 1}]', '[{"name": null, "weight": 1}]',
    '[{"name": "champion", "weight": true}]', '[{"name": "champion", "weight": false}]',
    '[{"name": "champion", "weight": -1}]', '[{"name": "champion", "weight": -0.5}]',
    '[{"name": "champion", "weight": "1"}]', '[{"name": "champion", "weight": null}]',
    '[{"name": "champion", "weight": NaN}]',
    '[{"name": "champion", "weight": 1}, {"name": "challenger", "weight": -1}]',
    '[{"name": "champion", "weight": 1, "spec": 5}]',
    '[{"name": "champion", "weight": 1%s}]' % ("0" * 400),  # no OverflowError at cold start
])
def test_malformed_variants(value: str) -> None:
    assert read(**MINIMAL, VARIANTS=value) == {**DEFAULTS, "config_error": VARIANTS_ERROR}


@pytest.mark.parametrize("value", [
    "[]", '[{"name": "champion", "weight": 1}, {"name": "champion", "weight": 2}]',
])
def test_no_variant_or_a_duplicate(value: str) -> None:
    assert read(**MINIMAL, VARIANTS=value) == {**DEFAULTS, "config_error": VARIANTS_COUNT_ERROR}


def test_a_variants_error_comes_before_a_feature_names_error() -> None:
    settings = read(ENDPOINT_NAME="xgb", FEATURE_NAMES="[]", VARIANTS="[]")
    assert settings == {**DEFAULTS, "feature_names": (), "config_error": VARIANTS_COUNT_ERROR}


def test_an_unusable_variant_spec_is_named_without_feature_names(tmp_path: Path) -> None:
    """Every variant with its own spec needs no FEATURE_NAMES: a broken spec is the cause shown,
    not the FEATURE_NAMES its failure leads to reading."""
    spec_file(tmp_path, "a.json")
    variants = json.dumps([{"name": "champion", "weight": 1, "spec": "a.json"},
                           {"name": "challenger", "weight": 1, "spec": "missing.json"}])
    settings = read(ENDPOINT_NAME="xgb", VARIANTS=variants, INPUT_SPEC_DIR=str(tmp_path))
    assert settings["config_error"] == (
        f"the spec of variant challenger {tmp_path / 'missing.json'} cannot be read")


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot be read"),
    (b"{}", "is not a usable input spec (input.fields: must be a non-empty list of fields)"),
])
def test_an_unusable_variant_spec(tmp_path: Path, content: bytes | None, reason: str) -> None:
    spec_file(tmp_path, "a.json")
    if content is not None:
        (tmp_path / "b.json").write_bytes(content)
    variants = json.dumps([{"name": "champion", "weight": 1, "spec": "a.json"},
                           {"name": "challenger", "weight": 1, "spec": "b.json"}])
    settings = read(**MINIMAL, VARIANTS=variants, INPUT_SPEC_DIR=str(tmp_path))
    assert settings == {**DEFAULTS,
                        "config_error": f"the spec of variant challenger {tmp_path / 'b.json'} {reason}"}


def test_variants_beside_input_spec_file(tmp_path: Path) -> None:
    spec_file(tmp_path, "spec.json")
    env = {"ENDPOINT_NAME": "xgb", "INPUT_SPEC_FILE": "spec.json", "INPUT_SPEC_DIR": str(tmp_path)}
    assert read(**env, VARIANTS='[{"name": "champion", "weight": 3}]') == {
        **DEFAULTS, "input_spec": SPEC, "feature_names": ("size", "island", "review"),
        "variants": (("champion", 3.0, None),)}
    assert read(**env, VARIANTS='[{"name": "champion", "weight": -3}]') == {
        **DEFAULTS, "input_spec": SPEC, "feature_names": ("size", "island", "review"),
        "config_error": VARIANTS_ERROR}


# --- what the handler answers -----------------------------------------------------------------

def test_a_misconfigured_handler_answers_500_without_calling_the_endpoint(tmp_path: Path) -> None:
    environments = [
        {k: v for k, v in BASE_ENV.items() if k != "ENDPOINT_NAME"},
        {**BASE_ENV, "VARIANTS": '[{"name": "champion", "weight": -1}]'},
        {**BASE_ENV, "INPUT_SPEC_FILE": "nope.json", "INPUT_SPEC_DIR": str(tmp_path)},
    ]
    for environment in environments:
        service = load_service(environment)
        assert service.settings.config_error
        with Stubber(service.runtime):  # any call to the endpoint would fail the test
            status, body, _ = call(service, event({"instances": [[1, 2, 3]]}))
        assert (status, body["error"]["code"], body["error"]["message"]) == (
            500, "handler_misconfigured", "the prediction service is misconfigured")
