"""Which channel carries which message, built once per configuration and checked at start-up.

Each practice names its email and SMS channels (``email_channel``, ``sms_channel``; ``file``
in development). Start-up resolves every channel a practice will use and builds it, so a
misspelled name or a missing ``[plugins.config.notifications.email]`` table stops
``check-config`` and ``run`` instead of dead-lettering the first message:

* the email channel, when the practice has alert emails or an EHR (patients get "we received
  your request" once their request is in the EHR, then what staff decided in the EHR);
* the SMS channel, when the practice has alert phones or texts patients (``text_patients``:
  each patient who agreed to texts gets them besides email; one who did not, email only).
"""

from __future__ import annotations

from pathlib import Path

from integration_core.api import (
    Channel,
    ChannelFactory,
    ConfigError,
    Registries,
    Registry,
    Settings,
    built_once,
    hookimpl,
    unknown_practices,
)
from plugins.notifications.channels import EmailChannel, FileChannel, SmsChannel
from plugins.notifications.config import (
    PLUGIN,
    NotificationSettings,
    load,
    practice_notifications,
)

__all__ = ["channel", "check_config", "register_channels", "settings_model", "used_channels"]


def _email(settings: Settings) -> Channel:
    email = load(settings).email
    if email is None:
        raise ConfigError(f"plugins.config.{PLUGIN}.email: not configured")
    return EmailChannel(email)


def _sms(settings: Settings) -> Channel:
    sms = load(settings).sms
    if sms is None:
        raise ConfigError(f"plugins.config.{PLUGIN}.sms: not configured")
    return SmsChannel(sms)


def _file(settings: Settings) -> Channel:
    return FileChannel(Path(load(settings).file_folder))


@hookimpl
def settings_model() -> type[NotificationSettings]:
    return NotificationSettings


@hookimpl
def register_channels(registry: Registry[ChannelFactory], settings: Settings) -> None:
    registry.add("email", _email)
    registry.add("sms", _sms)
    registry.add("file", _file)


def channel(settings: Settings, registry: Registry[ChannelFactory], name: str) -> Channel:
    """The channel ``name``, built once per configuration (an SMS client keeps its pool)."""
    return built_once(
        settings, ("notifications.channel", name), lambda: registry.get(name)(settings)
    )


def used_channels(settings: Settings, slug: str) -> list[tuple[str, str, str]]:
    """``(setting, channel name, what it carries)`` for each channel practice ``slug`` uses."""
    ours = practice_notifications(settings, slug)
    used = []
    if ours.alert_emails or settings.practices[slug].ehr_adapter is not None:
        used.append(("email_channel", ours.email_channel, "email alerts and patient messages"))
    if ours.alert_phones or ours.text_patients:
        carries = " and ".join(
            what
            for what, wanted in (
                ("text alerts", ours.alert_phones),
                ("texts to patients", ours.text_patients),
            )
            if wanted
        )
        used.append(("sms_channel", ours.sms_channel, carries))
    return used


@hookimpl
def check_config(settings: Settings, registries: Registries) -> None:
    prefix = f"plugins.config.{PLUGIN}.practices"
    problems = unknown_practices(settings, PLUGIN, load(settings).practices)
    for slug in settings.practices:
        for setting, name, carries in used_channels(settings, slug):
            key = f"{prefix}.{slug}.{setting}"
            if name not in registries.channels:
                problems.append(f"{key}: {registries.channels.unknown(name)}")
                continue
            try:
                channel(settings, registries.channels, name)
            except ConfigError as exc:
                problems.append(
                    f"{exc} (practice {slug} sends {carries} through channel {name!r}; "
                    f"configure it, or choose another in {key}: "
                    f"{', '.join(registries.channels.names())})"
                )
    if problems:
        raise ConfigError("\n".join(problems))
