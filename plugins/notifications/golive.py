"""The notification channels' go-live checks (``practice-sync check``): every channel a
practice uses answers, proved by its ``probe()`` — the SMTP server greets us, the SMS gateway
shows the account to its credentials, the file channel's folder takes a file. Nothing is sent.

One check per channel, naming the practices and settings that use it; a failure says which
settings to look at. Secrets stay out of the lines: the channels' errors never carry them.
"""

from __future__ import annotations

from integration_core.api import (
    ConfigError,
    ExternalRejected,
    GoLiveCheck,
    Registries,
    Settings,
    TransientError,
    error_code,
    hookimpl,
)
from plugins.notifications.channel_choice import channel, used_channels
from plugins.notifications.config import PLUGIN

__all__ = ["go_live_checks"]

WHERE = {
    "email": f"plugins.config.{PLUGIN}.email (host, port, starttls, username; the password from "
    "the environment)",
    "sms": f"plugins.config.{PLUGIN}.sms (base_url, account_sid; the auth_token from the "
    "environment)",
    "file": f"plugins.config.{PLUGIN}.file_folder",
}
"""The settings behind each built-in channel."""


@hookimpl
def go_live_checks(settings: Settings, registries: Registries) -> list[GoLiveCheck]:
    users: dict[str, list[str]] = {}
    for slug in settings.practices:
        for setting, name, _carries in used_channels(settings, slug):
            users.setdefault(name, []).append(f"{slug}'s {setting}")
    return [
        probe(settings, registries, name, used_by) if name != "file" else _to_a_folder(used_by)
        for name, used_by in users.items()
    ]


def _to_a_folder(used_by: list[str]) -> GoLiveCheck:
    """The file channel is for development: at go-live its messages would reach no one."""
    return GoLiveCheck.failed(
        f"channel file reaches people (used as {', '.join(used_by)})",
        "the file channel writes messages to a folder, for development: choose email or sms "
        f"in plugins.config.{PLUGIN}.practices.<practice>.<setting> named here",
    )


def probe(settings: Settings, registries: Registries, name: str, used_by: list[str]) -> GoLiveCheck:
    check = f"channel {name} answers (used as {', '.join(used_by)})"
    where = WHERE.get(name, f"the settings of the plugin that registers channel {name!r}")
    try:
        channel(settings, registries.channels, name).probe()
    except ConfigError as exc:
        return GoLiveCheck.failed(check, str(exc).splitlines()[0])
    except ExternalRejected as exc:
        return GoLiveCheck.failed(check, f"{exc} ({exc.code}): check {where}")
    except TransientError as exc:
        return GoLiveCheck.failed(check, f"{exc} ({exc.code}): check {where}, and that it is up")
    except AttributeError:
        return GoLiveCheck.failed(
            check, f"channel {name!r} cannot be probed: update the plugin that registers it"
        )
    except Exception as exc:
        return GoLiveCheck.failed(
            check, f"its probe failed ({error_code(exc)}, {type(exc).__name__}): check {where}"
        )
    return GoLiveCheck.passed(check)
