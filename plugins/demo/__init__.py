"""``practice-sync demo``: the first vertical slice end to end, told as a story.

A built-in plugin that adds one command and implements no lifecycle hook, so it does nothing
in a deployment. Its story names the other built-in plugins (the booking platform, the
Kareo-like sandbox EHR, the file channel), which is why it is not part of the core.
"""
