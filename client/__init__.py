"""The prediction API's client: ``predict`` sends rows to the deployed (or local) API."""
