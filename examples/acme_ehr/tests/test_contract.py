"""``AcmeEHRAdapter`` passes practice-sync's adapter conformance kit against the fake Acme EHR,
over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from integration_core.testing import EHRAdapterContract
from integration_core.testing.processes import free_port

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_records import DEFAULT_CLINICIANS, DEFAULT_SITES
from acme_ehr.fake_server import FakeAcmeEHR

API_KEY = "contract-key"


class TestAcmeEHR(EHRAdapterContract):
    provider_ids = DEFAULT_CLINICIANS  # ids the fake EHR knows
    location_ids = DEFAULT_SITES

    @pytest.fixture
    def ehr_adapter(self) -> Iterator[AcmeEHRAdapter]:
        with FakeAcmeEHR(API_KEY) as server:  # a fresh, empty EHR for each test
            adapter = AcmeEHRAdapter(server.base_url, API_KEY, timeout_seconds=5)
            yield adapter
            adapter.close()

    @pytest.fixture
    def unreachable_ehr_adapter(self) -> Iterator[AcmeEHRAdapter]:
        adapter = AcmeEHRAdapter(f"http://127.0.0.1:{free_port()}", API_KEY, timeout_seconds=2)
        yield adapter
        adapter.close()
