"""Each channel against a real peer on loopback: an SMTP server, an SMS API over HTTP, a folder."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from integration_core.errors import ExternalRejected, ExternalUnavailable
from integration_core.testing.processes import free_port
from plugins.notifications.channels import EmailChannel, FileChannel, Message, SmsChannel
from plugins.notifications.config import EmailSettings, SmsSettings


def test_email_goes_through_a_real_smtp_server(smtp_server):
    inbox, port = smtp_server
    channel = EmailChannel(EmailSettings(host="127.0.0.1", port=port, sender="clinic@example.com"))
    message_id = channel.send(
        Message("jane@example.com", "Hello Jane\n", "We received your request")
    )
    ((sender, recipients, content),) = inbox.messages
    assert (sender, recipients) == ("clinic@example.com", ["jane@example.com"])
    assert b"Subject: We received your request" in content
    assert b"Hello Jane" in content
    assert message_id.encode() in content


def test_an_unreachable_smtp_server_is_transient():
    channel = EmailChannel(EmailSettings(host="127.0.0.1", port=free_port(), timeout_seconds=2))
    with pytest.raises(ExternalUnavailable):
        channel.send(Message("jane@example.com", "x", "y"))


class Gateway(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 201

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        Gateway.received.append({"path": self.path, "auth": self.headers["Authorization"], **form})
        body = json.dumps({"sid": "SM123"}).encode()
        self.send_response(Gateway.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def sms_gateway():
    Gateway.received, Gateway.status = [], 201
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def sms_settings(base_url: str) -> SmsSettings:
    return SmsSettings(
        base_url=base_url, account_sid="AC1", auth_token="tok", from_number="+16175550000"
    )


def test_sms_goes_to_a_twilio_compatible_api_over_http(sms_gateway):
    assert (
        SmsChannel(sms_settings(sms_gateway)).send(Message("+16175550142", "2 requests waiting"))
        == "SM123"
    )
    (request,) = Gateway.received
    assert request["path"] == "/2010-04-01/Accounts/AC1/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC1:tok").decode()
    assert (request["To"], request["From"], request["Body"]) == (
        "+16175550142",
        "+16175550000",
        "2 requests waiting",
    )


def test_sms_errors_are_classified(sms_gateway):
    Gateway.status = 400
    with pytest.raises(ExternalRejected):
        SmsChannel(sms_settings(sms_gateway)).send(Message("+1", "x"))
    Gateway.status = 503
    with pytest.raises(ExternalUnavailable):
        SmsChannel(sms_settings(sms_gateway)).send(Message("+1", "x"))


def test_the_file_channel_writes_one_file_per_message(tmp_path: Path):
    channel = FileChannel(tmp_path / "out")
    channel.send(Message("jane@example.com", "Hello\n", "Subject line"))
    channel.send(Message("+16175550142", "Text\n"))
    files = sorted(p.name.split("-")[0] for p in (tmp_path / "out").iterdir())
    assert files == ["email", "sms"]
