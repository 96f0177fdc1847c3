"""The Kareo-like EHR: its adapter, and a sandbox server with its own database."""
