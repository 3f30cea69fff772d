"""Deploy the stacks into moto's AWS emulator on loopback: the offline proof of `cdk deploy`.

`make deploy-emulated` runs :func:`main`: start moto_server on 127.0.0.1, `cdk bootstrap`,
`cdk deploy --all` with the CLI paths moto supports, print what was created, stop the server
(moto keeps everything in memory, so stopping it is the teardown). The integration tests use
the same functions.

Two deliberate differences from a real deploy, both forced by moto and listed in the README:
- ``--method=direct`` (moto's change sets are unreliable);
- strong cross-stack references (``Fn::ImportValue``), because moto does not implement the
  ``Fn::GetStackOutput`` the app uses in AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.cdk_cli import CDK, ROOT, cli_env

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
EMULATOR_CONTEXT = ["-c", "@aws-cdk/core:defaultCrossStackReferences=strong"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Run moto_server on loopback for the duration of the block; yields its URL."""
    port = port or _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    # "localhost", not 127.0.0.1: moto would read "127" as the bucket of path-style S3 URLs.
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on port {port}") from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def aws_env(url: str) -> dict[str, str]:
    """Environment that points the CDK CLI and boto3 at the emulator with fake credentials."""
    env = cli_env({k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                  validation=False)
    env.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_S3": url,
    })
    return env


def cdk(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(CDK), *args, "--no-notices"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} failed:\n{result.stdout}\n{result.stderr}")
    return result


def bootstrap(env: dict[str, str]) -> None:
    # Its own output folder: the CLI locks the one it uses, and a synth into cdk.out may be running.
    with tempfile.TemporaryDirectory(prefix="cdk-bootstrap-") as outdir:
        cdk(["bootstrap", f"aws://{ACCOUNT}/{REGION}", "--output", outdir], env)


def deploy(config: Path | str, env: dict[str, str], outdir: Path | str) -> None:
    """Synthesize, adapt the templates to moto, and deploy the assembly as it is."""
    cdk(["synth", "--quiet", "-c", f"config={config}", *EMULATOR_CONTEXT, "-o", str(outdir)], env)
    for template in Path(outdir).glob("*.template.json"):
        _drop_bootstrap_version_rule(template)
    cdk(["deploy", "--all", "--app", str(outdir), "--method=direct", "--require-approval",
         "never"], env)


def _drop_bootstrap_version_rule(template_path: Path) -> None:
    """moto fails stack *updates* that carry CDK's CheckBootstrapVersion rule; remove it.

    The rule only asserts the bootstrap stack's version, which the emulator's fresh
    bootstrap satisfies by construction.
    """
    template = json.loads(template_path.read_text())
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    if not template.get("Rules"):
        template.pop("Rules", None)
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    if not template.get("Parameters"):
        template.pop("Parameters", None)
    template_path.write_text(json.dumps(template, indent=1))


def clients(url: str) -> dict[str, Any]:
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)
    return {name: session.client(name, endpoint_url=url) for name in
            ("cloudformation", "s3", "iam", "lambda", "sagemaker", "apigateway")}


def inventory(url: str) -> list[tuple[str, str, str, str]]:
    """(stack, logical id, resource type, physical id) for every resource of the app's stacks.

    moto completes a stack but skips resource types it does not emulate; those come back
    without a type and are shown as such rather than hidden.
    """
    cloudformation = clients(url)["cloudformation"]
    rows = []
    for stack in cloudformation.describe_stacks()["Stacks"]:
        name = stack["StackName"]
        if name == "CDKToolkit":
            continue
        for resource in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]:
            rows.append((name, resource["LogicalResourceId"],
                         resource["ResourceType"] or "(not emulated by moto)",
                         resource.get("PhysicalResourceId", "")))
    return rows


def run(args: argparse.Namespace) -> int:
    """``xgbapi deploy-emulated``: bootstrap and deploy every stack into moto, list, tear down."""
    with moto_server(args.port) as url:
        env = aws_env(url)
        print(f"moto_server listening on {url}", flush=True)
        print("cdk bootstrap ...", flush=True)
        bootstrap(env)
        print(f"cdk deploy --all ({args.config}) ...", flush=True)
        deploy(args.config, env, ROOT / "cdk.out.emulated")
        rows = inventory(url)
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in sorted(rows):
            print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, [*widths, 0], strict=True)))
        print(f"{len(rows)} resources in {len({r[0] for r in rows})} stacks; stopping the emulator "
              "(its state is in memory only)")
    return 0

