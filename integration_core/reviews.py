"""The shapes a review-site plugin receives and returns through ``route_review``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PublishedReview", "ReviewToRoute"]


class ReviewToRoute(BaseModel):
    """A public review the patient agreed to publish, as a destination needs it."""

    model_config = ConfigDict(frozen=True)

    review_id: str
    practice_id: str
    provider_id: str | None
    location_id: str | None
    rating: int = Field(ge=1, le=5)
    text: str
    author_display: str = Field(description="as the patient agreed to be shown, e.g. initials")


class PublishedReview(BaseModel):
    """What a destination reports back: where the review now lives."""

    destination: str
    external_id: str
    url: str | None = None
