"""The local runtime reads and answers what the built-in XGBoost container does, over the wire.

Every request goes through botocore's sagemaker-runtime client to a RuntimeHTTPServer on
loopback, so the Content-Type and Accept headers botocore sends and the ContentType it reads
back are part of what is checked. The models are tiny boosters trained here with the installed
xgboost. The container's behaviour quoted below is aws/sagemaker-xgboost-container at tags
v1.7-1-1 and v3.0-5 (algorithm_mode/serve.py, algorithm_mode/serve_utils.py, data_utils.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import botocore.session
import numpy as np
import pytest
import xgboost as xgb
from botocore.config import Config
from botocore.exceptions import ClientError
from scipy.sparse import csr_matrix

from contract.images import FRAMEWORK_XGBOOST_VERSIONS
from contract.manifest import Manifest
from local.runtime_server import LocalRuntime
from local.variants import (
    LIBSVM_SHIFTING_FRAMEWORK_VERSIONS,
    InputError,
    LocalVariant,
    parse_libsvm,
)
from tests.local.serving import serving

ENDPOINT = "fidelity-endpoint"
FEATURES = 3


def train_regressor() -> xgb.Booster:
    """3 features, ~25% missing, so the trees learn default directions for missing values."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, FEATURES))
    y = 3 * x[:, 0] - 2 * x[:, 1] + x[:, 2] ** 2
    x[rng.random(x.shape) < 0.25] = np.nan
    return xgb.train({"max_depth": 3, "eta": 0.3, "nthread": 1}, xgb.DMatrix(x, label=y), 20)


def train_softprob() -> xgb.Booster:
    """A multi-output model (3 class probabilities per row) for the response shapes."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, FEATURES))
    y = np.digitize(x[:, 0], [-0.5, 0.5])
    return xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1},
                     xgb.DMatrix(x, label=y), 5)


REGRESSOR = train_regressor()
SOFTPROB = train_softprob()


def variant(name: str, booster: xgb.Booster | None, *, libsvm_shift: bool = False,
            weight: float = 1.0) -> LocalVariant:
    # A stand-in manifest: the runtime reads only its features and framework version.
    manifest = cast(Manifest, SimpleNamespace(features=("a", "b", "c"), framework_version="3.0-5"))
    return LocalVariant(name=name, weight=weight, manifest=manifest, manifest_path=cast(Any, None),
                        booster=booster, load_error=None if booster else "model.tar.gz does not load",
                        libsvm_shift=libsvm_shift)


@pytest.fixture(scope="module")
def runtime_url() -> Iterator[str]:
    variants = [variant("regressor", REGRESSOR),
                variant("shifting", REGRESSOR, libsvm_shift=True, weight=0),
                variant("softprob", SOFTPROB, weight=0),
                variant("broken", None, weight=0)]
    with serving(LocalRuntime(ENDPOINT, variants, seed=1)) as base:
        yield base


@pytest.fixture(scope="module")
def runtime(runtime_url: str) -> Any:
    return botocore.session.get_session().create_client(
        "sagemaker-runtime", region_name="us-east-1", endpoint_url=runtime_url,
        aws_access_key_id="local", aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}))


def invoke(runtime: Any, body: bytes | str, content_type: str | None = "text/libsvm",
           accept: str | None = None, target: str = "regressor") -> tuple[str, bytes]:
    params: dict[str, Any] = {"EndpointName": ENDPOINT, "Body": body, "TargetVariant": target}
    if content_type is not None:
        params["ContentType"] = content_type
    if accept is not None:
        params["Accept"] = accept
    response = runtime.invoke_endpoint(**params)
    assert response["InvokedProductionVariant"] == target
    return response["ContentType"], response["Body"].read()


def model_error(runtime: Any, body: bytes | str, content_type: str | None = "text/libsvm",
                accept: str | None = None, target: str = "regressor") -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        invoke(runtime, body, content_type, accept, target)
    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    original = response.get("OriginalStatusCode") or response["Error"].get("OriginalStatusCode")
    return int(original), str(response.get("OriginalMessage", ""))


def csv_lines(values: np.ndarray) -> bytes:
    return "".join(f"{float(v)!r}\n" for v in values).encode()


def booster_on(rows: list[int], cols: list[int], values: list[float],
               shape: tuple[int, int] | None = None, booster: xgb.Booster = REGRESSOR) -> np.ndarray:
    """The booster's own predictions on a csr matrix built here, independently of the runtime."""
    matrix = csr_matrix((np.array(values, dtype=float), (np.array(rows), np.array(cols))), shape=shape)
    return booster.predict(xgb.DMatrix(matrix), validate_features=False)


def dense(rows: list[list[float]], booster: xgb.Booster = REGRESSOR) -> np.ndarray:
    return booster.predict(xgb.DMatrix(np.array(rows, dtype=float), missing=np.nan))


# --- text/libsvm ---------------------------------------------------------------------------------

def test_libsvm_predictions_equal_the_booster_on_the_same_csr_matrix(runtime):
    body = "0:0.5 1:-1.25 2:2\n1:0.75\n0:-1 2:0\n2:1.5 0:0.25\n"
    content_type, answer = invoke(runtime, body)
    expected = booster_on([0, 0, 0, 1, 2, 2, 3, 3], [0, 1, 2, 1, 0, 2, 2, 0],
                          [0.5, -1.25, 2, 0.75, -1, 0, 1.5, 0.25])
    got = np.array([float(line) for line in answer.decode().splitlines()])
    assert content_type == "text/csv; charset=utf-8"
    assert got.shape == (4,)
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    # Absent entries are missing values; a written 0 is a zero.
    np.testing.assert_allclose(got, dense([[0.5, -1.25, 2], [np.nan, 0.75, np.nan], [-1, np.nan, 0],
                                           [0.25, np.nan, 1.5]]), atol=1e-6, rtol=0)
    assert dense([[-1, np.nan, 0]])[0] != pytest.approx(dense([[-1, np.nan, np.nan]])[0], abs=1e-6)


@pytest.mark.parametrize("content_type", ["text/libsvm", "text/x-libsvm", "text/libsvm; charset=utf-8",
                                          "TEXT/LIBSVM", "libsvm"])
def test_libsvm_content_types_the_container_reads(runtime, content_type):
    # data_utils.get_content_type lower-cases and drops parameters; bare "libsvm" also passes.
    _, answer = invoke(runtime, "0:1 1:2 2:3", content_type)
    assert answer == csv_lines(dense([[1, 2, 3]]))


def test_released_containers_do_not_shift_one_based_indices(runtime):
    """v1.7-1-1 and v3.0-5 serve_utils._get_sparse_matrix_from_libsvm use indices as written."""
    assert LIBSVM_SHIFTING_FRAMEWORK_VERSIONS.isdisjoint(FRAMEWORK_XGBOOST_VERSIONS)
    # Smallest index 1: column 0 is missing, 1 and 2 as written.
    _, answer = invoke(runtime, "1:0.5 2:-1")
    assert answer == csv_lines(dense([[np.nan, 0.5, -1]]))
    assert answer != csv_lines(dense([[0.5, -1, np.nan]]))  # what a shift would have predicted
    # Index 3 on a 3-feature model is a 4th column: xgboost refuses it, the container says 400.
    status, message = model_error(runtime, "1:0.5 2:-1 3:1")
    assert status == 400
    assert message.startswith("Unable to evaluate payload provided")


def test_master_container_shift_applies_per_request_when_no_index_is_0(runtime):
    """serve_utils.py on the container's master branch, lines 111-113: col - 1 when col.min() >= 1."""
    _, shifted = invoke(runtime, "1:0.5 2:-1 3:1\n3:2", target="shifting")
    assert shifted == csv_lines(dense([[0.5, -1, 1], [np.nan, np.nan, 2]]))
    np.testing.assert_allclose([float(v) for v in shifted.split()],
                               booster_on([0, 0, 0, 1], [0, 1, 2, 2], [0.5, -1, 1, 2]), atol=1e-6, rtol=0)
    # An index 0 anywhere in the request: nothing shifts, in any row.
    _, as_written = invoke(runtime, "0:0.5 2:1\n2:2", target="shifting")
    assert as_written == csv_lines(dense([[0.5, np.nan, 1], [np.nan, np.nan, 2]]))
    # The same line means different columns depending on the request it came in.
    _, alone = invoke(runtime, "2:2", target="shifting")
    assert alone == csv_lines(dense([[np.nan, 2, np.nan]]))
    assert alone != csv_lines(dense([[np.nan, np.nan, 2]]))


def test_parse_libsvm_mirrors_the_container(runtime):
    # An item without a colon (a label) is skipped; the value is the text after the first colon
    # up to a second one; a repeated index sums; rows run to the last row holding an entry.
    matrix = parse_libsvm(b"  3.5 0:1:9 2:4 2:1\n\n1:2\n7\n ")
    assert matrix.shape == (3, 3)
    assert matrix.toarray().tolist() == [[1, 0, 5], [0, 0, 0], [0, 2, 0]]
    assert matrix.nnz == 3  # the empty middle row has no entries: all missing
    assert parse_libsvm(b"1:2 3:4", shift_one_based=True).toarray().tolist() == [[2, 0, 4]]
    assert parse_libsvm(b"0:2 3:4", shift_one_based=True).toarray().tolist() == [[2, 0, 0, 4]]
    _, answer = invoke(runtime, "9.9 0:1:7 1:2\r\n\n2:3\r\n")  # CRLF: "2\r" still reads as 2
    assert answer == csv_lines(dense([[1, 2, np.nan], [np.nan] * 3, [np.nan, np.nan, 3]]))


@pytest.mark.parametrize("body", [
    "a:1",            # index not an integer
    "0:abc",          # value not a number
    "0:1 1:",         # empty value
    ":1",             # empty index
    "1.5:2",          # fractional index
    "-1:2",           # negative index
    "0:1\t1:2",       # tab separator: one item "0:1\t1:2", value "1\t1"
    "no entries here",
    "0:inf",          # xgboost refuses inf in the DMatrix, inside parse_content_data's try
    b"0:1 1:\xff",    # not UTF-8
])
def test_malformed_libsvm_is_415_as_the_container_answers(runtime, body):
    # parse_content_data wraps every failure in RuntimeError; invocations() answers 415.
    status, message = model_error(runtime, body)
    assert status == 415
    assert message.startswith("Loading libsvm data failed with Exception")


def test_libsvm_index_beyond_the_models_features_is_400(runtime):
    status, message = model_error(runtime, "0:1 1:2 2:3\n0:1 7:2")
    assert status == 400
    assert "8 columns" in message and "3 features" in message


def test_libsvm_with_fewer_columns_than_the_model_is_accepted(runtime):
    # xgboost predicts a matrix narrower than the model (the rest missing), as the container does.
    _, answer = invoke(runtime, "0:1\n0:2")
    assert answer == csv_lines(dense([[1, np.nan, np.nan], [2, np.nan, np.nan]]))


# --- Accept ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept", ["application/json", "application/json; charset=utf-8",
                                    "Application/JSON"])
def test_accept_json_gives_the_containers_json(runtime, accept):
    content_type, answer = invoke(runtime, "0:1 1:2 2:3\n1:-1\n", accept=accept)
    expected = dense([[1, 2, 3], [np.nan, -1, np.nan]])
    assert content_type == "application/json"
    # serve_utils.encode_predictions_as_json: json.dumps of preds.tolist() wrapped in "score".
    assert answer == json.dumps({"predictions": [{"score": float(v)} for v in expected]}).encode()
    assert answer.startswith(b'{"predictions": [{"score": ')


@pytest.mark.parametrize("accept", [None, "*/*", "text/csv", "text/csv; charset=utf-8", "TEXT/CSV"])
def test_accept_csv_or_none_gives_one_prediction_per_line(runtime, accept):
    content_type, answer = invoke(runtime, "0:1 1:2 2:3\n1:-1\n", accept=accept)
    assert content_type == "text/csv; charset=utf-8"  # Flask's mimetype adds the charset
    assert answer == csv_lines(dense([[1, 2, 3], [np.nan, -1, np.nan]]))


def test_multi_output_rows_as_the_container_encodes_them(runtime):
    rows = [[1, 2, 3], [-1, 0, 0.5]]
    expected = dense(rows, SOFTPROB)
    assert expected.shape == (2, 3)
    _, as_json = invoke(runtime, "1,2,3\n-1,0,0.5\n", "text/csv", "application/json", "softprob")
    assert json.loads(as_json) == {"predictions": [{"score": [float(v) for v in row]} for row in expected]}
    _, as_csv = invoke(runtime, "1,2,3\n-1,0,0.5\n", "text/csv", "text/csv", "softprob")
    # sagemaker_containers array_to_csv: one row per line, the row's values joined by commas.
    assert as_csv == "".join(",".join(repr(float(v)) for v in row) + "\n" for row in expected).encode()


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", "text/*",
                                    "application/json, text/csv"])
def test_unsupported_accept_is_406(runtime, accept):
    assert model_error(runtime, "0:1", accept=accept)[0] == 406


@pytest.mark.parametrize("accept", ["application/jsonlines", "application/x-recordio-protobuf"])
def test_accepts_listed_but_not_encodable_are_500(runtime, accept):
    # In SUPPORTED_ACCEPTS, but without selectable inference output encoders.encode has no
    # encoder for them: an uncaught UnsupportedFormatError, Flask's 500.
    status, _ = model_error(runtime, "0:1", accept=accept)
    assert status == 500


def test_a_bad_body_is_reported_before_a_bad_accept(runtime):
    # invocations() parses and predicts before it reads Accept.
    assert model_error(runtime, "x:1", accept="text/plain")[0] == 415


# --- text/csv and other content types --------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "TEXT/CSV",
                                          "text/csv; label_size=1", "csv"])
def test_csv_requests_unchanged(runtime, content_type):
    rows = [[1, 2, 3], [np.nan, -1, np.nan], [0.25, np.nan, 4]]
    response_type, answer = invoke(runtime, "1,2,3\n,-1,\n0.25,,4\n", content_type)
    expected = REGRESSOR.inplace_predict(np.array(rows, dtype=np.float32), missing=np.nan)
    assert response_type == "text/csv; charset=utf-8"
    assert answer == csv_lines(expected)


@pytest.mark.parametrize(("body", "status"), [("1,2\n", 400), ("1,x,3\n", 400), ("", 400)])
def test_csv_errors_unchanged(runtime, body, status):
    assert model_error(runtime, body, "text/csv")[0] == status


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "text/plain", "application/x-parquet",
                                          "application/x-recordio-protobuf", "text/csv; label_size=2"])
def test_other_content_types_are_415(runtime, content_type):
    status, _ = model_error(runtime, '{"instances": [[1, 2, 3]]}', content_type)
    assert status == 415


def test_no_content_type_is_415(runtime):
    # A deliberate difference: the container reads a request without Content-Type as libsvm
    # (data_utils.get_content_type(None)), but what SageMaker forwards then is not documented.
    assert model_error(runtime, "0:1", content_type=None)[0] == 415


def test_broken_model_is_a_server_error(runtime):
    status, message = model_error(runtime, "0:1", target="broken")
    assert (status, message) == (500, "model.tar.gz does not load")
    # and a content type it would refuse anyway is still 415 first, as parse precedes load
    assert model_error(runtime, "{}", "application/json", target="broken")[0] == 415


def test_invoke_raises_input_error_with_the_status():
    with pytest.raises(InputError) as raised:
        variant("direct", REGRESSOR).invoke(b"0:1", "text/libsvm", "text/html")
    assert raised.value.status == 406
