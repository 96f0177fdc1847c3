"""A plugin whose routes say what body they got: a public one (rate limited like the widget),
a staff one, one that takes no body at all, and one whose dependency reads the raw body.
Each records the size of what reached it, so a test can tell a refused body never did."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from integration_core.api import RouteRegistry, Staff, hookimpl, public_rate_limit


class Received(BaseModel):
    size: int


class BodyProbe:
    def __init__(self) -> None:
        self.received: list[tuple[str, int]] = []

    @hookimpl
    def register_routes(self, routes: RouteRegistry) -> None:
        router = APIRouter(prefix="/v1/practices/{practice}/probe")

        @router.post("/public", dependencies=[Depends(public_rate_limit)])
        async def public(practice: str, request: Request) -> Received:
            body = await request.body()
            self.received.append(("public", len(body)))
            return Received(size=len(body))

        @router.post("/staff")
        async def staff(practice: str, request: Request, principal: Staff) -> Received:
            body = await request.body()
            self.received.append(("staff", len(body)))
            return Received(size=len(body))

        @router.post("/unread")
        def unread(practice: str) -> Received:
            self.received.append(("unread", 0))
            return Received(size=0)

        async def raw_body(request: Request) -> bytes:
            return await request.body()

        @router.put("/raw")
        def raw(practice: str, body: bytes = Depends(raw_body)) -> Received:
            self.received.append(("raw", len(body)))
            return Received(size=len(body))

        routes.add(router)
