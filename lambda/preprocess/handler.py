"""Preprocessing Lambda: validated JSON or CSV rows -> the model's CSV -> SageMaker endpoint.

API Gateway (REST, Lambda proxy) -> ``handler`` -> InvokeEndpoint -> JSON predictions and the
production variant that served them. Standard library and boto3/botocore only (both in the runtime),
plus ``contract`` (standard library only), which the asset carries through a symlink.

This module is the asset's entry point (``contract.names.HANDLER_ENTRY_POINT``). At cold start
it reads the environment into ``Settings`` (see preprocessing/settings.py for the variables)
and builds one ``PredictionService`` with its sagemaker-runtime client; each invocation is one
``handle`` call. Hosts other than Lambda (tests, the local stack, the bench) build their own
service from an explicit environment: local/lambda_host.py.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session
from preprocessing.endpoint import runtime_client
from preprocessing.service import PredictionService
from preprocessing.settings import Settings
from preprocessing.weights import live_weights

SETTINGS = Settings.from_environ(os.environ)
_SESSION = botocore.session.get_session()
_RUNTIME = runtime_client(SETTINGS, session=_SESSION)
SERVICE = PredictionService(SETTINGS, _RUNTIME,
                            weights=live_weights(SETTINGS, _SESSION, _RUNTIME.meta.endpoint_url))
_handle = SERVICE.handle


def handler(event: Any, context: Any) -> dict[str, Any]:
    return _handle(event, context)
