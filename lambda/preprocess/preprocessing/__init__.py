"""The preprocessing Lambda's parts, one concern per module (standard library, botocore and ``contract``).

- ``settings``: the environment, read and validated once into ``Settings`` (read-only by convention).
- ``request``: the API Gateway proxy event (headers, media type, body, query parameters, the
  ``target_variant`` / ``inference_id`` checks), ``RequestError`` (every answer other than
  200) and number literals kept as text (the JSON scanner's kinds, float32 range checks).
- ``json_rows`` / ``csv_rows``: a request body -> the model's CSV payload (fast and exact paths).
- ``endpoint``: the runtime client, the error mapping of its faults, the predictions it returns.
- ``log_line``: the one structured log line per request.
- ``service``: ``PredictionService.handle(event, context)``, all of the above in order.

``handler.py`` (the asset's entry point) builds one service at cold start from ``os.environ``.
"""
