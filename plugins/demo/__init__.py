"""``practice-sync demo``: bookings from the widget into the EHR and back, told as a story — the
EHR sync, the staff's decisions in the EHR and the webhooks that bring them back.

A built-in plugin that adds one command and implements no lifecycle hook, so it does nothing
in a deployment. Its story names the other built-in plugins (the booking platform, the
Kareo-like sandbox EHR, the file channel), which is why it is not part of the core.
"""
