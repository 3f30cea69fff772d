"""The entry point as Lambda runs it: the asset root alone on sys.path, ``import handler``,
configuration from the process environment; and the asset's ``contract`` symlink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local.lambda_host import ASSET_DIR
from tests.handler.support import BASE_ENV, ENDPOINT

REPO = ASSET_DIR.parents[1]

CHILD = """
import io, json, sys
sys.path.insert(0, {asset!r})
import handler
from botocore.response import StreamingBody
from botocore.stub import Stubber

event = {{"headers": {{"Content-Type": "application/json"}}, "body": '{{"instances": [[1, 2, 3]]}}'}}
with Stubber(handler.SERVICE.runtime) as stub:
    stub.add_response("invoke_endpoint", {{"Body": StreamingBody(io.BytesIO(b"0.5"), 3),
                      "InvokedProductionVariant": "champion"}},
                      {{"EndpointName": {endpoint!r}, "Body": b"1,2,3", "ContentType": "text/csv",
                       "Accept": "text/csv"}})
    ok = handler.handler(event, None)
bad = handler.handler("not an event", None)
repo = {repo!r}
outside = sorted(name for name, module in sys.modules.items()
                 if (getattr(module, "__file__", None) or "").startswith(repo + "/")
                 and not module.__file__.startswith(({asset!r} + "/", sys.prefix + "/")))
print(json.dumps({{"ok": ok, "bad": bad["statusCode"], "outside": outside,
                  "contract": sys.modules["contract"].__file__}}))
"""


def run_child(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    code = CHILD.format(asset=str(ASSET_DIR), endpoint=ENDPOINT, repo=str(REPO))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment.update(env)
    out = subprocess.run([sys.executable, "-P", "-c", code], env=environment, cwd=tmp_path,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_lambda_style_import_answers_from_the_process_environment(tmp_path):
    result = run_child(BASE_ENV, tmp_path)
    ok = result["ok"]
    assert isinstance(ok, dict) and ok["statusCode"] == 200
    assert json.loads(ok["body"])["predictions"] == [0.5]
    assert result["bad"] == 400
    # everything the handler imported from this repository came from inside its asset
    assert result["outside"] == []
    assert str(result["contract"]).startswith(str(ASSET_DIR / "contract") + os.sep)


def test_contract_reaches_the_asset_through_a_relative_symlink():
    link = ASSET_DIR / "contract"
    assert link.is_symlink() and os.readlink(link) == "../../contract"
    assert link.resolve() == REPO / "contract"
