"""Time blocks: staff keep a provider's time free (a meeting, a lunch, a half day off).

No appointment is confirmed, moved or booked into a block
(:mod:`plugins.ehr_kareo_like.sandbox.conflicts`); a block may be laid over appointments
already there, which then list it among their conflicts for staff to resolve. Blocks are not
appointments, so they record no change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, model_validator
from sqlalchemy import select

from integration_core.api import ApiError, BoundedDatetime, Identifier, SingleLine
from plugins.ehr_kareo_like.sandbox.appointments import require_known
from plugins.ehr_kareo_like.sandbox.store import SandboxStore, TimeBlock, new_sandbox_id, now

__all__ = ["TimeBlockIn", "TimeBlockOut", "time_blocks_router"]

LONGEST_BLOCK = timedelta(days=31)


class TimeBlockIn(BaseModel):
    provider_id: Identifier
    start: BoundedDatetime
    end: BoundedDatetime
    note: Annotated[str, SingleLine(max_length=200)] = ""

    @model_validator(mode="after")
    def _a_span(self) -> TimeBlockIn:
        if not self.start < self.end <= self.start + LONGEST_BLOCK:
            raise ValueError("end must come after start, within 31 days")
        return self


class TimeBlockOut(BaseModel):
    id: str
    provider_id: str
    start: datetime
    end: datetime
    note: str


class TimeBlockList(BaseModel):
    time_blocks: list[TimeBlockOut]


def _out(row: TimeBlock) -> TimeBlockOut:
    return TimeBlockOut(
        id=row.id, provider_id=row.provider_id, start=row.start_at, end=row.end_at, note=row.note
    )


def time_blocks_router(store: SandboxStore) -> APIRouter:
    """``POST``, ``GET`` and ``DELETE /staff/time-blocks``."""
    router = APIRouter(prefix="/staff/time-blocks", tags=["staff"])

    @router.post("", response_model=TimeBlockOut, status_code=201)
    def block_time(body: TimeBlockIn) -> TimeBlockOut:
        with store.transaction() as session:
            require_known(session, provider_id=body.provider_id)
            row = TimeBlock(
                id=new_sandbox_id("BLK"),
                provider_id=body.provider_id,
                start_at=body.start,
                end_at=body.end,
                note=body.note,
                created_at=now(),
            )
            session.add(row)
            return _out(row)

    @router.get("", response_model=TimeBlockList)
    def list_time_blocks(
        provider_id: Annotated[Identifier | None, Query()] = None,
    ) -> TimeBlockList:
        query = select(TimeBlock).order_by(TimeBlock.start_at, TimeBlock.id)
        if provider_id is not None:
            query = query.where(TimeBlock.provider_id == provider_id)
        with store.read() as session:
            return TimeBlockList(time_blocks=[_out(row) for row in session.scalars(query)])

    @router.delete("/{block_id}", status_code=204, response_class=Response)
    def remove_time_block(block_id: Identifier) -> Response:
        with store.transaction() as session:
            row = session.get(TimeBlock, block_id)
            if row is None:
                raise ApiError(404, "not_found", "No such time block.")
            session.delete(row)
        return Response(status_code=204)

    return router
