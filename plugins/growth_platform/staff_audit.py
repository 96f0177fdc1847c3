"""What staff read and change here, on the audit trail: who (the staff token's name, never the
token), what, which id, when and the outcome — never the patient data itself. Every staff route
records through here, so a list read is recorded alike wherever it is served."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integration_core.api import Engine, StaffPrincipal, record_audit

__all__ = ["audit", "audit_read"]


def audit(
    session: Session,
    engine: Engine,
    staff: StaffPrincipal,
    action: str,
    entity: str,
    entity_id: str | None,
    outcome: str = "ok",
) -> None:
    record_audit(
        session,
        practice_id=staff.practice_id,
        actor=staff.token_name,
        action=action,
        entity=entity,
        entity_id=entity_id,
        outcome=outcome,
        at=engine.clock.now(),
    )


def audit_read(
    session: Session, engine: Engine, staff: StaffPrincipal, listed: str, rows: int
) -> None:
    """A read of the list ``listed`` that showed ``rows`` rows."""
    audit(session, engine, staff, "read", listed, None, f"{rows} rows")
