"""AWS limits the request path and the config must respect (see docs/api.md for sources)."""

from __future__ import annotations

# InvokeEndpoint's request body limit, and the built-in container's (413 above it).
ENDPOINT_BODY_LIMIT_BYTES = 6291456
# API Gateway REST: request payload limit and integration timeout.
API_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
API_INTEGRATION_TIMEOUT_SECONDS = 29
# The preprocessing Lambda's own timeout: under API Gateway's integration timeout.
LAMBDA_TIMEOUT_SECONDS = 25
# Lambda: all environment variables of a function together.
LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096
# Rows in one prediction request (the handler's default MAX_ROWS).
MAX_ROWS_PER_REQUEST = 10000
# SageMaker: production variants per endpoint config.
MAX_VARIANTS = 10
