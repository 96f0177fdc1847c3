"""The Acme EHR for practice-sync: an ``EHRAdapter``, its plugin, and a fake Acme EHR to test it.

Installed next to practice-sync, the ``acme_ehr`` plugin (entry point ``practice_sync.plugins``)
registers the ``acme`` EHR adapter; a practice uses it with ``ehr_adapter = "acme"``.
"""
