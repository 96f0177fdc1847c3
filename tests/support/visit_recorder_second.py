"""A second plugin implementing the visit hooks (the recorder's own), so that a check-in or a
check-out must reach two plugins, once each."""

from tests.support.visit_recorder import on_checkin, on_checkout

PLUGIN_NAME = "visit_recorder_second"

__all__ = ["PLUGIN_NAME", "on_checkin", "on_checkout"]
