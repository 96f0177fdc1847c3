"""Each channel proves its endpoint answers without sending anything: a real SMTP server (with
and without a login), a Twilio-compatible gateway over HTTP, a folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from integration_core.errors import ExternalRejected, ExternalUnavailable
from integration_core.testing.processes import free_port
from plugins.notifications.channels import EmailChannel, FileChannel, SmsChannel
from plugins.notifications.config import EmailSettings, SmsSettings
from tests.support.go_live import ACCOUNT_SID, AUTH_TOKEN, SmsGateway

PASSWORD = "smtp-secret-5521"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = (bytes(value).decode() for value in (data.login, data.password))
        self.logins.append(login)
        return AuthResult(success=password == PASSWORD, handled=False)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, controller.port
    controller.stop()


def email(port: int, **settings: Any) -> EmailChannel:
    return EmailChannel(EmailSettings(host="127.0.0.1", port=port, timeout_seconds=5, **settings))


def test_the_email_probe_greets_the_smtp_server_and_sends_nothing(inbox):
    server, port = inbox
    email(port).probe()
    assert server.messages == [] and server.logins == []


def test_the_email_probe_logs_in_when_a_login_is_set(inbox):
    server, port = inbox
    email(port, username="desk", password=PASSWORD).probe()
    assert server.logins == ["desk"] and server.messages == []


def test_the_email_probe_reports_a_refused_login_without_the_password(inbox):
    _, port = inbox
    with pytest.raises(ExternalRejected) as caught:
        email(port, username="desk", password="not-the-password").probe()
    assert caught.value.code == "email_unauthorized"
    assert "not-the-password" not in str(caught.value)


def test_the_email_probe_of_a_closed_port_is_unavailable():
    with pytest.raises(ExternalUnavailable) as caught:
        email(free_port()).probe()
    assert caught.value.code == "email_unavailable"


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as running:
        yield running


def sms(base_url: str, **changes: Any) -> SmsChannel:
    values: dict[str, Any] = {
        "base_url": base_url,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+16175550000",
        "timeout_seconds": 5,
    }
    return SmsChannel(SmsSettings(**{**values, **changes}))


def test_the_sms_probe_reads_the_account_and_sends_nothing(gateway):
    sms(gateway.url).probe()
    assert gateway.probes == [f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"auth_token": "wrong-token-0912"}, "sms_unauthorized"),
        ({"account_sid": "AC0other"}, "sms_unauthorized"),
    ],
    ids=["wrong_token", "other_account"],
)
def test_the_sms_probe_reports_refused_credentials_without_the_token(gateway, changes, code):
    with pytest.raises(ExternalRejected) as caught:
        sms(gateway.url, **changes).probe()
    assert caught.value.code == code
    assert "wrong-token-0912" not in str(caught.value) and AUTH_TOKEN not in str(caught.value)


def test_the_sms_probe_of_an_account_the_gateway_does_not_have_says_so(gateway):
    with pytest.raises(ExternalRejected) as caught:
        sms(f"{gateway.url}/elsewhere").probe()
    assert caught.value.code == "sms_no_such_account"


def test_the_sms_probe_of_a_closed_port_is_unavailable():
    with pytest.raises(ExternalUnavailable) as caught:
        sms(f"http://127.0.0.1:{free_port()}").probe()
    assert caught.value.code == "sms_unavailable"


def test_the_file_probe_leaves_nothing_behind(tmp_path: Path):
    folder = tmp_path / "messages" / "new"
    FileChannel(folder).probe()
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_the_file_probe_of_a_folder_that_cannot_be_made_is_refused(tmp_path: Path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(ExternalRejected) as caught:
        FileChannel(tmp_path / "taken" / "messages").probe()
    assert caught.value.code == "file_not_writable"
