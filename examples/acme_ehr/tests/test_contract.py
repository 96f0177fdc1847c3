"""``AcmeEHRAdapter`` passes practice-sync's adapter conformance kit against the fake Acme EHR,
over real loopback HTTP, with the front desk's staff (``tests/acme_staff.py``) acting in it."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from acme_staff import AcmeStaff
from conftest import API_KEY
from integration_core.testing import EHRAdapterContract, EHRStaff
from integration_core.testing.processes import free_port

from acme_ehr.adapter import AcmeEHRAdapter
from acme_ehr.fake_records import DEFAULT_CLINICIANS, DEFAULT_SITES
from acme_ehr.fake_server import FakeAcmeEHR

OTHER_SECRET = "whsec_" + base64.b64encode(b"not the fake Acme EHR's secret").decode()


class TestAcmeEHR(EHRAdapterContract):
    provider_ids = DEFAULT_CLINICIANS  # ids the fake EHR knows
    location_ids = DEFAULT_SITES

    @pytest.fixture
    def ehr_adapter(self, adapter: AcmeEHRAdapter) -> AcmeEHRAdapter:
        return adapter  # on a fresh, empty fake Acme EHR, with its webhook secret (conftest.py)

    @pytest.fixture
    def ehr_staff(self, staff: AcmeStaff) -> EHRStaff:
        return staff  # that EHR's front desk, and the webhooks it signed

    @pytest.fixture
    def unreachable_ehr_adapter(self) -> Iterator[AcmeEHRAdapter]:
        adapter = AcmeEHRAdapter(f"http://127.0.0.1:{free_port()}", API_KEY, timeout_seconds=2)
        yield adapter
        adapter.close()

    @pytest.fixture
    def wrong_secret_ehr_adapter(self, acme_ehr: FakeAcmeEHR) -> Iterator[AcmeEHRAdapter]:
        adapter = AcmeEHRAdapter(acme_ehr.base_url, API_KEY, webhook_secret=OTHER_SECRET)
        yield adapter
        adapter.close()
