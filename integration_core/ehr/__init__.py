"""The EHR side of the core: the adapter protocol, the matching policy, the sync workflow."""
