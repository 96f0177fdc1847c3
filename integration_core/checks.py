"""What a check reports, and what the core reads from an EHR to check against.

Shared by ``practice-sync check`` (:mod:`integration_core.golive`), the start-up refusals
(:mod:`integration_core.reachability`) and the plugins' ``go_live_checks`` hook.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from integration_core.ehr.protocol import (
    EHRLocation,
    EHRPracticeSettings,
    EHRProvider,
    EHRVisitReason,
)

__all__ = ["EHRFacts", "GoLiveCheck", "describe"]


class GoLiveCheck(BaseModel):
    """One go-live check's outcome: what was checked, and for a failure what to change."""

    model_config = ConfigDict(frozen=True)

    name: str
    """What was checked, e.g. ``practice acme: provider dr_lee is in the EHR (ehr_id 1001)``."""
    ok: bool
    fix: str = ""
    """For a failure: what to change, naming the setting or the place in the EHR."""

    @classmethod
    def passed(cls, name: str) -> GoLiveCheck:
        return cls(name=name, ok=True)

    @classmethod
    def failed(cls, name: str, fix: str) -> GoLiveCheck:
        return cls(name=name, ok=False, fix=fix)


class EHRFacts(BaseModel):
    """What the core read from one practice's EHR for the go-live checks, once."""

    model_config = ConfigDict(frozen=True)

    adapter: str
    """The practice's ``ehr_adapter``."""
    practice_settings: EHRPracticeSettings
    providers: tuple[EHRProvider, ...]
    locations: tuple[EHRLocation, ...]
    visit_reasons: tuple[EHRVisitReason, ...]


def describe(check: GoLiveCheck) -> str:
    """The check as one line: ``PASS  name`` or ``FAIL  name — what to change``."""
    if check.ok:
        return f"PASS  {check.name}"
    return f"FAIL  {check.name} — {check.fix}"
