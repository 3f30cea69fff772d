"""Host the preprocessing Lambda in this process: the one way tests, the local stack and the bench
load it.

The Lambda's asset root (lambda/preprocess) goes on ``sys.path`` as in Lambda, so the handler's
own imports (``preprocessing...``, ``contract...``) resolve as they do there. Instead of
importing ``handler.py`` (which configures itself from ``os.environ`` at import, as Lambda
needs), ``load_service`` builds the same ``PredictionService`` from an explicit environment
mapping: nothing in ``os.environ`` is read for the handler's settings or written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import botocore.session

from contract.encoding import InputSpec
from contract.names import (
    DEFAULT_REGION,
    INPUT_SPEC_FILENAME,
    HandlerEnv,
    handler_environment,
    handler_setup,
)

ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "preprocess"


def put_asset_on_path() -> None:
    """Make the asset's top-level modules importable (appended: nothing here is shadowed)."""
    if str(ASSET_DIR) not in sys.path:
        sys.path.append(str(ASSET_DIR))


put_asset_on_path()

from preprocessing.endpoint import runtime_client  # noqa: E402  (needs the asset on sys.path)
from preprocessing.service import PredictionService  # noqa: E402
from preprocessing.settings import Settings  # noqa: E402
from preprocessing.weights import live_weights  # noqa: E402

__all__ = ["ASSET_DIR", "LOCAL_AWS", "LambdaHandler", "PredictionService", "Settings",
           "function_environment", "load_service", "put_asset_on_path", "stack_environment"]

LambdaHandler = Callable[[Any, Any], dict[str, Any]]  # handler(event, context) -> proxy response

# What a Lambda host provides besides the stack's variables: a region and (fake) credentials.
LOCAL_AWS = {"AWS_DEFAULT_REGION": DEFAULT_REGION, "AWS_ACCESS_KEY_ID": "local",
             "AWS_SECRET_ACCESS_KEY": "local"}


def function_environment(endpoint_name: str, spec: InputSpec, spec_dir: Path) -> dict[str, str]:
    """The variables the API stack sets for ``spec``. A spec that rides in the asset in AWS is
    written into ``spec_dir`` here (the file the stack would put in the asset) and named by its
    absolute path."""
    spec_file = Path(spec_dir).resolve() / INPUT_SPEC_FILENAME
    if not spec.plain_numeric:
        spec_file.write_text(spec.to_json(), encoding="utf-8")
    return handler_environment(endpoint_name, spec, spec_file=str(spec_file))


def stack_environment(endpoint_name: str, variants: Sequence[tuple[str, float, InputSpec]],
                      spec_dir: Path, *, api_url: str | None = None,
                      weights_ttl_seconds: int | None = None) -> dict[str, str]:
    """The variables the API stack sets for ``variants`` (names.handler_setup), with the spec
    files it puts in the asset written into ``spec_dir``; ``api_url``: where DescribeEndpoint
    goes (the local runtime server's control plane)."""
    environment, files = handler_setup(endpoint_name, variants)
    for name, content in files.items():
        (Path(spec_dir) / name).write_text(content, encoding="utf-8")
    environment[HandlerEnv.INPUT_SPEC_DIR] = str(Path(spec_dir).resolve())
    if api_url:
        environment[HandlerEnv.SAGEMAKER_API_URL] = api_url
    if weights_ttl_seconds is not None:
        environment[HandlerEnv.WEIGHTS_TTL_SECONDS] = str(weights_ttl_seconds)
    return environment


def load_service(environment: Mapping[str, str], *, runtime_url: str | None = None) -> PredictionService:
    """The handler's service as Lambda would build it with ``environment`` as its os.environ.

    ``environment`` holds the HandlerEnv variables and, optionally, AWS_REGION or
    AWS_DEFAULT_REGION and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN for its
    runtime client (missing ones come from botocore's usual chain). ``runtime_url`` points that
    client at another sagemaker-runtime endpoint (the local runtime server). Call
    ``service.handle(event, context)``; ``service.runtime`` is the client, for stubbing.
    """
    settings = Settings.from_environ(environment)
    session = botocore.session.Session()
    key, secret = environment.get("AWS_ACCESS_KEY_ID"), environment.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        session.set_credentials(key, secret, environment.get("AWS_SESSION_TOKEN"))
    region = environment.get("AWS_REGION") or environment.get("AWS_DEFAULT_REGION")
    if region:
        session.set_config_variable("region", region)
    runtime = runtime_client(settings, session=session, endpoint_url=runtime_url)
    return PredictionService(settings, runtime,
                             weights=live_weights(settings, session, runtime.meta.endpoint_url))
