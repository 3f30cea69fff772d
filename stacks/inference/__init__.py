"""The inference component: models, weighted endpoint config, endpoint, rollout, autoscaling."""
