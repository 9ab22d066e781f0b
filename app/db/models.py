"""The tables of the customer store: customers and their latest model outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, JSONDocument, UtcDateTime, utc_now

CUSTOMER_ID_LENGTH = 128


class Customer(Base):
    """A customer's feature record, stored as given: any schema fits, the record is JSON."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(CUSTOMER_ID_LENGTH), primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)

    def __repr__(self) -> str:
        # Never the record: it is customer data and must stay out of logs.
        return f"Customer(customer_id={self.customer_id!r})"


class CustomerScore(Base):
    """The latest output of one registered model for one customer, with the version behind it."""

    __tablename__ = "customer_scores"

    customer_id: Mapped[str] = mapped_column(
        String(CUSTOMER_ID_LENGTH),
        ForeignKey("customers.customer_id", ondelete="CASCADE"),
        primary_key=True,
    )
    model_name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    model_version: Mapped[str] = mapped_column(String(32))
    model_alias: Mapped[str | None] = mapped_column(String(64))
    output: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    def __repr__(self) -> str:
        return (
            f"CustomerScore(customer_id={self.customer_id!r}, model_name={self.model_name!r}, "
            f"model_version={self.model_version!r})"
        )
