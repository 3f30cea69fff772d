"""Operating the deployed endpoint (status, traffic, ab-report) and what it costs (cost)."""
