"""The local API front's request validator over HTTP: it answers what API Gateway answers, for
bodies Python's json module finds hard, and keeps serving."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from local.api_front import ApiHTTPServer

INVALID_BODY = {"error": {"code": "BAD_REQUEST_BODY", "message": "Invalid request body"}}


class Recorder:
    """A stand-in for the Lambda: it must be reached only by requests the validator passes."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": '{"predictions":[0.5]}'}


@pytest.fixture
def front() -> Iterator[tuple[http.client.HTTPConnection, Recorder]]:
    recorder = Recorder()
    server = ApiHTTPServer(("127.0.0.1", 0), recorder, {"variants": []})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        yield connection, recorder
    finally:
        connection.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def post(connection: http.client.HTTPConnection, body: str) -> tuple[int, str, Any]:
    connection.request("POST", "/predict", body=body.encode(),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type", ""), json.loads(response.read())


@pytest.mark.parametrize("body", [
    "[" * 100_000,  # deeper than Python's recursion limit
    '{"instances": [' + "[" * 100_000 + "1" + "]" * 100_000 + "]}",  # deep, and well-formed
], ids=["unclosed", "closed"])
def test_deeply_nested_json_gets_api_gateways_400_and_the_front_keeps_serving(front, body):
    connection, recorder = front
    assert post(connection, body) == (400, "application/json", INVALID_BODY)
    assert recorder.events == []
    # the same keep-alive connection still works: nothing died with the request
    assert post(connection, '{"instances": [[1, 2]]}') == (200, "application/json", {"predictions": [0.5]})
    assert len(recorder.events) == 1


def test_integers_past_pythons_digit_limit_pass_the_validator(front):
    # API Gateway's schema check sees a number; Python's int() would refuse 5000 digits.
    connection, recorder = front
    body = '{"instances": [[' + "9" * 5000 + "]]}"
    assert post(connection, body)[0] == 200
    assert recorder.events[0]["body"] == body


def test_schema_violations_still_get_400(front):
    connection, recorder = front
    for body in ("{", "[]", '{"instances": {}}', '{"instances": [], "target_variant": 5}', '{"x": []}'):
        assert post(connection, body) == (400, "application/json", INVALID_BODY), body
    assert recorder.events == []
