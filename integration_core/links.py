"""Id links: the same thing known by different ids in different systems.

A request, its booking-platform patient, the EHR patient and the EHR appointment are found
from one another through rows ``(practice, entity, local id, system, external id)``.
Linking is idempotent: linking the same pair again is a no-op, and linking a local record to
a *different* external id in the same system is refused (it would silently split a record).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from integration_core.store import IdLink

__all__ = ["EHR_SYSTEM", "LinkConflict", "external_id", "link", "local_id"]

EHR_SYSTEM = "ehr"
"""The system name under which a practice's EHR ids are linked (whichever EHR it is)."""


class LinkConflict(Exception):
    """The local record is already linked to another external id in that system."""


# Built once: every sync step looks links up.
_EXTERNAL = select(IdLink.external_id).where(
    IdLink.practice_id == bindparam("practice_id"),
    IdLink.entity == bindparam("entity"),
    IdLink.local_id == bindparam("local"),
    IdLink.system == bindparam("system"),
)
_LOCAL = select(IdLink.local_id).where(
    IdLink.practice_id == bindparam("practice_id"),
    IdLink.system == bindparam("system"),
    IdLink.entity == bindparam("entity"),
    IdLink.external_id == bindparam("external"),
)
_INSERT = insert(IdLink)


def link(
    session: Session,
    *,
    practice_id: str,
    entity: str,
    local: str,
    system: str,
    external: str,
    now: datetime,
) -> None:
    existing = external_id(
        session, practice_id=practice_id, entity=entity, local=local, system=system
    )
    if existing == external:
        return
    if existing is not None:
        raise LinkConflict(f"{entity} {local} is already linked in {system}")
    session.connection().execute(
        _INSERT,
        {
            "practice_id": practice_id,
            "entity": entity,
            "local_id": local,
            "system": system,
            "external_id": external,
            "created_at": now,
        },
    )


def external_id(
    session: Session, *, practice_id: str, entity: str, local: str, system: str
) -> str | None:
    params = {"practice_id": practice_id, "entity": entity, "local": local, "system": system}
    found: str | None = session.connection().execute(_EXTERNAL, params).scalar()
    return found


def local_id(
    session: Session, *, practice_id: str, entity: str, system: str, external: str
) -> str | None:
    params = {"practice_id": practice_id, "entity": entity, "system": system, "external": external}
    found: str | None = session.connection().execute(_LOCAL, params).scalar()
    return found
