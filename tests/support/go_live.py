"""What ``practice-sync check`` talks to, for real on loopback: an SMTP server, a
Twilio-compatible SMS gateway, and a practice configured to pass every go-live check against
them and the sandbox EHR."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from integration_core.testing.processes import free_port
from tests.support.sandbox_ehr import API_KEY

ACCOUNT_SID = "AC0go0live"
AUTH_TOKEN = "sms-secret-token-7731"
"""The gateway's credentials; a line that shows the token leaks a secret."""

PRACTICE: dict[str, Any] = {
    "name": "Acme Family Medicine",
    "ehr_adapter": "kareo_like",
    "locations": {
        "downtown": {"name": "Downtown", "time_zone": "America/New_York", "ehr_id": "downtown"},
        "uptown": {"name": "Uptown", "time_zone": "America/New_York", "ehr_id": "uptown"},
    },
    "providers": {
        "dr_lee": {"name": "Dr. Lee", "ehr_id": "1001", "locations": ["downtown", "uptown"]},
        "dr_patel": {"name": "Dr. Patel", "ehr_id": "1002", "locations": ["downtown"]},
    },
    "staff_tokens": {"front_desk": "token-front-desk"},
}
"""A practice whose ids the sandbox EHR's default directory has."""

GROWTH: dict[str, Any] = {
    "practices": {
        "acme": {
            "reasons": {
                "checkup": {
                    "name": "Annual checkup",
                    "providers": ["dr_lee", "dr_patel"],
                    "locations": ["downtown", "uptown"],
                    "ehr_visit_reason": "3",  # "Annual physical", 30 minutes in the sandbox
                },
                "follow_up": {
                    "name": "Follow-up",
                    "providers": ["dr_lee"],
                    "locations": ["downtown", "uptown"],
                    "ehr_visit_reason": "2",  # "Follow-up", 20 minutes
                },
            },
            "calendars": {
                "dr_lee": {"downtown": {"days": {"mon": {}}}, "uptown": {"days": {"tue": {}}}},
                "dr_patel": {"downtown": {"days": {"wed": {}}}},
            },
        }
    }
}


def ready_overrides(
    smtp_port: int, sms_url: str, ehr_url: str = "http://sandbox-ehr"
) -> dict[str, Any]:
    """Settings overrides (``ps_runtime_factory``) for a practice ready for go-live: every id
    in the sandbox EHR, every reason mapped, every calendar seeded, email and texts through
    the loopback SMTP server and SMS gateway. The EHR adapter is the test's to set
    (``runtime.ehr.use``) unless ``ehr_url`` is a real sandbox server."""
    return {
        "practices": {"acme": copy.deepcopy(PRACTICE)},
        "plugins": {
            "config": {
                "growth_platform": copy.deepcopy(GROWTH),
                "ehr_kareo_like": {
                    "practices": {
                        "acme": {"base_url": ehr_url, "api_key": API_KEY, "transient_retries": 0}
                    }
                },
                "notifications": {
                    "email": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 5},
                    "sms": {
                        "base_url": sms_url,
                        "account_sid": ACCOUNT_SID,
                        "auth_token": AUTH_TOKEN,
                        "from_number": "+16175550000",
                        "timeout_seconds": 5,
                    },
                    "practices": {
                        "acme": {
                            "alert_emails": ["desk@acme.example"],
                            "alert_phones": ["+16175550100"],
                        }
                    },
                },
            }
        },
    }


class _Quiet:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on a loopback port: its port."""
    controller = Controller(_Quiet(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


class SmsGateway(ThreadingHTTPServer):
    """A Twilio-compatible gateway on loopback: shows the account to its credentials
    (``GET /2010-04-01/Accounts/{sid}.json``), 401 to any others."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.account_sid = ACCOUNT_SID
        self.auth_token = AUTH_TOKEN
        self.probes: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> SmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _GatewayHandler(BaseHTTPRequestHandler):
    server: SmsGateway

    def do_GET(self) -> None:
        gateway = self.server
        gateway.probes.append(self.path)
        expected = base64.b64encode(f"{gateway.account_sid}:{gateway.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._answer(401, {"code": 20003, "message": "Authenticate"})
        elif self.path != f"/2010-04-01/Accounts/{gateway.account_sid}.json":
            self._answer(404, {"code": 20404, "message": "Not found"})
        else:
            self._answer(200, {"sid": gateway.account_sid, "status": "active"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass
