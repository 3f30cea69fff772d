#!/usr/bin/env python3
"""CDK entry point: load and validate the config, compose the stacks, synthesize.

Pick a config with ``cdk synth -c config=config/other.toml`` (default: config/default.toml).
"""

import sys

from aws_cdk import App

from contract.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from stacks.composition import compose


def main() -> int:
    app = App()
    try:
        config = load_config(app.node.try_get_context("config") or DEFAULT_CONFIG_PATH)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    compose(app, config)
    if not config.has_models:
        print(config.next_steps(), file=sys.stderr)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
