"""A fresh fake Acme EHR for each test, served on a loopback port (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_server import FakeAcmeEHR

API_KEY = "test-acme-key"


@pytest.fixture
def acme_ehr() -> Iterator[FakeAcmeEHR]:
    with FakeAcmeEHR(API_KEY) as server:
        yield server


@pytest.fixture
def adapter(acme_ehr: FakeAcmeEHR) -> Iterator[AcmeEHRAdapter]:
    adapter = AcmeEHRAdapter(acme_ehr.base_url, API_KEY, timeout_seconds=5)
    yield adapter
    adapter.close()
