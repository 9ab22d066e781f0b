"""The app database's tables: the customer store, the model audit trail, captured requests,
API keys, the service's worker processes, and the feedback that comes back from the CRM."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, false, text
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


class ModelEvent(Base):
    """One move of a registry alias (stage, promote, rollback), with who, why and the gates.

    The audit trail of ``insight models describe``: which version served under an alias when,
    and why it got there. ``forced`` marks a promotion that overrode a failed gate.
    """

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(32))  # stage | promote | rollback | refresh
    alias: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[str | None] = mapped_column(String(32))
    to_version: Mapped[str | None] = mapped_column(String(32))  # None: a refresh of every model
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)

    def __repr__(self) -> str:
        return (
            f"ModelEvent({self.action} {self.model_name}@{self.alias}: "
            f"{self.from_version} -> {self.to_version})"
        )


class CapturedRequest(Base):
    """One scoring or classification request and its answer, personal data masked, kept for
    QA to replay against staged versions (``insight replay``)."""

    __tablename__ = "captured_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Made on the request path, unique: a batch written twice (its worker killed before it
    # could say so) stores each row once. Rows of before revision 0004 have none.
    capture_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)  # the route template
    path_params: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)  # masked
    body: Mapped[Any] = mapped_column(JSONDocument)
    # ``body`` holds a masked prefix (a string) of a refused request's body, not all of it.
    body_truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    answer: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    model_versions: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument, default=list)
    latency_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(100), index=True)  # the API key's name
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)

    def __repr__(self) -> str:
        return f"CapturedRequest(id={self.id!r}, endpoint={self.endpoint!r}, status={self.status})"


class ApiKey(Base):
    """A caller's API key: its name, scopes and limits, and a hash of the secret (never the
    secret itself). A revoked key keeps its row, so ``insight keys list --all`` shows it."""

    __tablename__ = "api_keys"
    __table_args__ = (
        # A name is unique among the keys in use; a revoked key's name may be given again.
        Index(
            "uq_api_keys_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(16), unique=True)  # the secret's public prefix
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONDocument)
    rate_limit: Mapped[float | None] = mapped_column(Float)  # requests per second, per worker
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, key_id={self.key_id!r})"


class ServiceWorker(Base):
    """One live service process: its heartbeat, and the last admin refresh it carried out, so
    that a refresh asked of one worker reaches every worker of the deployment."""

    __tablename__ = "service_workers"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    refresh_done: Mapped[int] = mapped_column(Integer, default=0)  # a model_events id

    def __repr__(self) -> str:
        return f"ServiceWorker({self.worker_id!r})"


class TextCorrection(Base):
    """A person's verdict on a classified text: its right demand category and/or whether it is
    spam. Keyed by the answer it corrects (``request:<request id>#<index>``) or, for a text sent
    as such, by a hash of the text (``text:<sha256>``): sending it again replaces it."""

    __tablename__ = "text_corrections"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(128), index=True)
    item_index: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # masked, as the capture keeps texts
    category: Mapped[str | None] = mapped_column(String(100))
    spam: Mapped[bool | None] = mapped_column(Boolean)
    # What the models answered, from the captured request: category, spam and the model refs.
    answered: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    corrected_by: Mapped[str] = mapped_column(String(100))
    client: Mapped[str | None] = mapped_column(String(100))  # the API key's name
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)

    def __repr__(self) -> str:
        return f"TextCorrection(key={self.key!r})"  # never the text


class CustomerOutcome(Base):
    """What became of a stored customer, as of a date: whether they left, their confirmed
    occupation, the channels and content categories they really used. One row per customer
    and date: sending it again replaces it."""

    __tablename__ = "customer_outcomes"

    customer_id: Mapped[str] = mapped_column(String(CUSTOMER_ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    churned: Mapped[bool | None] = mapped_column(Boolean)
    occupation: Mapped[str | None] = mapped_column(String(100))
    channels: Mapped[list[str] | None] = mapped_column(JSONDocument)  # slugs: store, app ...
    content: Mapped[list[str] | None] = mapped_column(JSONDocument)  # slugs: news, games ...
    reported_by: Mapped[str] = mapped_column(String(100))
    client: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)

    def __repr__(self) -> str:
        return f"CustomerOutcome(customer_id={self.customer_id!r}, as_of={self.as_of})"
