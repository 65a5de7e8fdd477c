"""Operational-store table: the queue's learned rates, copied from mart_learned_rates on refresh."""

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from console.models.types import UTCDateTime


class LearnedRate(SQLModel, table=True):
    """One learned cell: its evidence, its prior and the shrunk estimate (docs/queue.md)."""

    __tablename__ = "learned_rates"

    measure: str = Field(primary_key=True, max_length=40)
    cell_group: str = Field(primary_key=True, max_length=20, description="kind or person type")
    band: str = Field(primary_key=True, max_length=40)
    successes: int = 0
    trials: int = Field(default=0, description="the evidence count")
    prior: float = 0.0
    estimate: float = 0.0
    built_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
