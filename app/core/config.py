"""The service's settings: one class, read from ``INSIGHT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from model_registry.store import MlflowStore


class Settings(BaseSettings):
    """Settings for the command line and the service; every field reads ``INSIGHT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="INSIGHT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("var"),
        description="Folder for the embedded default: MLflow's SQLite file and artifacts.",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="MLflow tracking and registry URI; unset means a SQLite file in data_dir.",
    )
    mlflow_artifact_root: str | None = Field(
        None,
        description="Where new experiments keep artifacts; unset means data_dir/mlartifacts.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the app database; unset means SQLite file data_dir/insight.db.",
    )
    database_connect_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="How long the service waits to connect to the app database (PostgreSQL "
        "counts whole seconds, at least 2) before the call answers 503.",
    )
    database_statement_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long one app-database statement, a lock wait (SQLite: the file's "
        "lock) or a wait for a free pooled connection may take before the call answers 503.",
    )
    model_alias: Literal["production", "staging"] = Field(
        "production",
        description="Alias a request without an X-Model-Alias header is answered from; "
        "staging makes a staging deployment (each model falls back to production unstaged).",
    )
    load_staging: bool = Field(
        True,
        description="Also load the staging versions, so X-Model-Alias: staging reaches them "
        "(always on when model_alias is staging).",
    )
    reload_interval_seconds: float = Field(
        30.0,
        ge=0,
        description="How often to check the registry for moved aliases and swap new versions "
        "in; 0 never polls (POST /v1/admin/models/refresh still checks).",
    )
    served_models: list[str] = Field(
        [
            "demand-classifier",
            "spam-filter",
            "churn",
            "channel-preference",
            "occupation",
            "content-preference",
        ],
        description="Registered models the service loads (JSON list); all six by default.",
    )
    host: str = Field("127.0.0.1", description="Address the service listens on.")
    port: int = Field(8000, description="Port the service listens on.")
    workers: int = Field(
        1, ge=1, description="Service processes; each loads every model (see the README's figures)."
    )
    shutdown_grace_seconds: int = Field(
        30,
        ge=1,
        description="On SIGTERM, how long the service lets the requests it has read finish "
        "(past it they are cancelled); then capture flushes and it exits.",
    )
    access_log: bool = Field(
        False, description="Log one line per request (method, path, status; never the body)."
    )
    require_api_keys: bool = Field(
        True,
        description="Every call but /healthz, /readyz, the docs and loopback /metrics needs an "
        "API key with the call's scope. False lets every caller in as admin: only behind a "
        "gateway that authenticates, or for a benchmark's baseline.",
    )
    metrics_open: bool = Field(
        False,
        description="Serve /metrics to any address without a key; by default only loopback "
        "callers get it without an admin key.",
    )
    sync_interval_seconds: float = Field(
        0.5,
        gt=0,
        description="How often each worker re-reads the API keys and looks for admin refreshes "
        "asked of another worker (a revoked key is refused everywhere within about this).",
    )
    refresh_wait_seconds: float = Field(
        15.0,
        ge=0,
        description="How long an admin refresh waits for the other workers to confirm theirs.",
    )
    max_texts_per_request: int = Field(
        64, ge=1, description="Largest batch of texts one classify request may carry."
    )
    max_customers_per_request: int = Field(
        100, ge=1, description="Largest batch of customers one score request may carry."
    )
    max_feedback_per_request: int = Field(
        100, ge=1, description="Largest batch of feedback items one feedback request may carry."
    )
    max_text_chars: int = Field(
        2000, ge=1, description="Longest text, in characters, that may be classified."
    )
    max_record_bytes: int = Field(
        16 * 1024,
        ge=1,
        description="The room, in bytes of JSON, one customer's record gets in the body limits "
        "(a store body: this plus 64 KiB; a score body: max_customers_per_request times this "
        "plus 64 KiB); no single record is checked against it.",
    )
    max_body_bytes: int | None = Field(
        None,
        ge=1,
        description="One body limit, in bytes, for every endpoint, instead of the limits derived "
        "from the batch settings (past it: 413, the body never read whole).",
    )
    capture_enabled: bool = Field(
        True,
        description="Capture every scoring and classification request and its answer, "
        "personal data masked, in the app database (docs/request-capture.md).",
    )
    capture_buffer_size: int = Field(
        200_000,
        ge=1,
        description="Captured requests that may wait for the database; past it new ones are "
        "dropped and counted (insight_capture_dropped_total). A minute at the top rate fits.",
    )
    capture_buffer_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1,
        description="Bytes the waiting captured requests may hold (bodies and answers); past it "
        "new ones are dropped and counted, as past capture_buffer_size.",
    )
    capture_refused_body_bytes: int = Field(
        4096,
        ge=0,
        description="Most bytes of a refused (non-2xx) request's body that capture keeps; the "
        "row of a longer one holds that prefix, marked body_truncated.",
    )
    capture_batch_size: int = Field(
        2000, ge=1, description="Most captured requests written per transaction."
    )
    capture_flush_interval_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the capture writer writes what is waiting (in large batches, "
        "which cost the service least).",
    )
    capture_retention_days: int = Field(
        30, ge=0, description="Days captured requests are kept; 0 keeps them forever."
    )
    capture_shutdown_timeout_seconds: float = Field(
        5.0, ge=0, description="How long a stopping service may spend writing what is waiting."
    )
    live_quality_interval_seconds: float = Field(
        300.0,
        ge=0,
        description="How often each worker recomputes the live-quality gauges from the feedback "
        "in the app database (on a thread of its own, never on a request); 0 never does.",
    )
    live_quality_window_days: float = Field(
        30.0,
        gt=0,
        description="The live-quality gauges judge the feedback received in this many last days.",
    )

    def app_database_url(self) -> str:
        """The app database's URL: the setting, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'insight.db').resolve()}"

    def mlflow_store(self) -> MlflowStore:
        """The MLflow store these settings name."""
        embedded = MlflowStore.embedded(self.data_dir)
        return MlflowStore(
            tracking_uri=self.mlflow_tracking_uri or embedded.tracking_uri,
            artifact_root=self.mlflow_artifact_root or embedded.artifact_root,
        )
