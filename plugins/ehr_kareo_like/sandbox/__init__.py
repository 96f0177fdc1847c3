"""A Kareo-like EHR server for demos and tests: own database, REST API behind an API key."""
