"""The pinned CDK CLI as the project's scripts run it: quiet, no network side effects."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"  # the CLI package.json pins (what `npx cdk` runs)
QUIET = {"CDK_DISABLE_CLI_TELEMETRY": "1", "CDK_DISABLE_VERSION_CHECK": "1",
         "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def cli_env(base: dict[str, str] | None = None, *, validation: bool) -> dict[str, str]:
    """``base`` (default: this process's environment) plus the quiet switches.

    ``validation=False`` also turns off CDK's built-in template validator, as `make synth` does;
    cfn-lint covers the same ground in the tests.
    """
    env = {**(os.environ if base is None else base), **QUIET}
    if not validation:
        env["CDK_VALIDATION"] = "false"
    return env


def synth(app_dir: Path, config: str | Path, outdir: Path) -> list[Path]:
    """``cdk synth`` of the app in ``app_dir`` with ``config`` into ``outdir`` (validator off, as
    `make synth`); the template paths. RuntimeError with the CLI's last words when it fails."""
    result = subprocess.run([str(CDK), "synth", "--quiet", "--no-notices", "-c", f"config={config}",
                             "-o", str(outdir)], cwd=app_dir, env=cli_env(validation=False),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"synth in {app_dir} failed:\n{result.stderr[-2000:]}")
    return sorted(outdir.glob("*.template.json"))
