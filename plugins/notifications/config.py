"""Settings under ``plugins.config.notifications``.

Secrets (the SMTP password, the SMS auth token) belong in the environment, e.g.
``PRACTICE_SYNC_PLUGINS__CONFIG__NOTIFICATIONS__SMS__AUTH_TOKEN``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from integration_core.api import ConfigSection, Settings, plugin_config

__all__ = [
    "PLUGIN",
    "EmailSettings",
    "NotificationSettings",
    "PracticeNotifications",
    "SmsSettings",
    "load",
    "practice_notifications",
]

PLUGIN = "notifications"


class EmailSettings(ConfigSection):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "practice-sync@localhost"
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0)


class SmsSettings(ConfigSection):
    base_url: str = Field(description="the Twilio-compatible API, e.g. https://api.twilio.com")
    account_sid: str
    auth_token: SecretStr
    from_number: str
    timeout_seconds: float = Field(default=10.0, gt=0)


class PracticeNotifications(ConfigSection):
    alert_emails: list[str] = Field(default=[], description="staff who get new-request alerts")
    alert_phones: list[str] = Field(default=[], description="staff who get PHI-free texts")
    email_channel: str = Field(default="email", description="email, or file in development")
    sms_channel: str = Field(default="sms", description="sms, or file in development")
    text_patients: bool = Field(
        default=False,
        description="also text patients who agreed to texts (through sms_channel), besides email",
    )
    telehealth_link: str | None = Field(
        default=None,
        description="the link patients join the practice's video visits by; without one, "
        "they are told the practice will send it",
    )
    booking_url: str | None = Field(
        default=None,
        description="where patients book online: messages asking them to choose another time "
        "link to it",
    )


class NotificationSettings(ConfigSection):
    file_folder: str = Field(default="messages", description="where the file channel writes")
    email: EmailSettings | None = None
    sms: SmsSettings | None = None
    practices: dict[str, PracticeNotifications] = {}


def load(settings: Settings) -> NotificationSettings:
    return plugin_config(settings, PLUGIN, NotificationSettings)


def practice_notifications(settings: Settings, slug: str) -> PracticeNotifications:
    """Practice ``slug``'s recipients and channels (the defaults when it names none)."""
    return load(settings).practices.get(slug, PracticeNotifications())
