"""Who the client is, through a real uvicorn server with the options ``serve`` and ``run``
give it: ``X-Forwarded-For`` counts only from ``http.forwarded_allow_ips``, so a client
cannot give itself a fresh rate-limit bucket by sending one."""

from __future__ import annotations

import logging

import httpx
import pytest

from integration_core.http.app import create_app
from integration_core.http.serving import trusted_proxies
from tests.support.http_server import serving

OPTIONS = "/v1/practices/acme/widget/options"
DEAD = "/v1/practices/acme/deliveries/dead"
LIMITS = {
    "per_client": "3/minute",
    "per_practice": "1000/minute",
    "staff_auth_failures": "2/minute",
}


def statuses(base: str, path: str, forwarded_for: list[str], **headers: str) -> list[int]:
    with httpx.Client(base_url=base) as client:
        return [
            client.get(path, headers={"X-Forwarded-For": value, **headers}).status_code
            for value in forwarded_for
        ]


def test_by_default_a_forwarded_for_header_is_not_believed(ps_runtime_factory, monkeypatch):
    # uvicorn would trust this variable's addresses (and loopback without it): not here.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    app = create_app(ps_runtime_factory(rate_limits=LIMITS))
    assert trusted_proxies(app) == []
    with serving(app) as base:
        fresh = [f"198.51.100.{n}" for n in range(1, 6)]
        assert statuses(base, OPTIONS, fresh) == [200, 200, 200, 429, 429]
        wrong = {"Authorization": "Bearer not-a-token"}
        assert statuses(base, DEAD, fresh[:3], **wrong) == [401, 401, 429]


@pytest.mark.parametrize("proxies", [["127.0.0.1"], ["127.0.0.0/8", "::1"], ["*"]])
def test_from_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    ps_runtime_factory, caplog, proxies
):
    app = create_app(ps_runtime_factory(rate_limits=LIMITS, http={"forwarded_allow_ips": proxies}))
    assert trusted_proxies(app) == proxies
    caplog.set_level(logging.WARNING, logger="integration_core.http.security")
    with serving(app, forwarded_allow_ips=trusted_proxies(app)) as base:
        assert statuses(base, OPTIONS, ["198.51.100.1"] * 4) == [200, 200, 200, 429]
        assert statuses(base, OPTIONS, ["198.51.100.2"] * 3) == [200, 200, 200]
        # A proxy appends the address it saw: the last untrusted one is the client.
        assert statuses(base, OPTIONS, ["10.9.9.9, 198.51.100.3"] * 4) == [200, 200, 200, 429]
        wrong = {"Authorization": "Bearer not-a-token"}
        assert statuses(base, DEAD, ["203.0.113.250"] * 3, **wrong) == [401, 401, 429]
        assert statuses(base, DEAD, ["203.0.113.251"], **wrong) == [401]
    clients = [str(r.__dict__["client"]) for r in caplog.records if hasattr(r, "client")]
    assert clients == ["203.0.113.250"] * 3 + ["203.0.113.251"]


def test_a_forwarded_for_header_from_an_untrusted_address_is_not_believed(ps_runtime_factory):
    app = create_app(
        ps_runtime_factory(rate_limits=LIMITS, http={"forwarded_allow_ips": ["10.0.0.0/8"]})
    )
    with serving(app, forwarded_allow_ips=trusted_proxies(app)) as base:
        fresh = [f"198.51.100.{n}" for n in range(1, 5)]
        assert statuses(base, OPTIONS, fresh) == [200, 200, 200, 429]
