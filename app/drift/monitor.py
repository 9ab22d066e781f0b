"""One drift check: the window's production traffic, per version, against its reference."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings
from app.db.migrations import ensure_up_to_date
from app.db.session import create_engine_for, create_session_factory
from app.drift.comparison import SHIFT_PSI, WATCH_PSI, compare_version
from app.drift.references import NoProfileError, reference_profile, text_model
from app.drift.traffic import VersionTraffic, production_traffic, traffic_filter

DEFAULT_MAX_PSI = SHIFT_PSI


class NoTrafficError(LookupError):
    """The window holds no request a production model answered."""


def check_drift(
    settings: Settings,
    *,
    since: datetime | None,
    until: datetime | None,
    models: Collection[str] = (),
    max_psi: float = DEFAULT_MAX_PSI,
) -> dict[str, Any]:
    """The drift report's figures; raises ``NoTrafficError`` for an empty window and
    ``NoProfileError`` when no version that answered has a reference profile."""
    selection = traffic_filter(since, until)
    traffic = _traffic(settings, selection, models)
    if not traffic:
        asked = f" for {', '.join(models)}" if models else ""
        raise NoTrafficError(
            f"no classify or score request answered 2xx by a production model{asked} was "
            f"captured in the window ({_window(selection.describe())}): nothing to compare"
        )
    client = settings.mlflow_store().activate()
    versions, without_profile = [], []
    for (model, version), seen in sorted(traffic.items()):
        try:
            profile = reference_profile(client, model, version)
        except NoProfileError as error:
            without_profile.append({"model": model, "version": version, "problem": str(error)})
            continue
        text = text_model(client, model, version) if profile["kind"] == "text" else None
        versions.append(compare_version(seen, profile, text))
    if not versions:
        raise NoProfileError("; ".join(item["problem"] for item in without_profile))
    exceeded = [
        {"model": v["model"], "version": v["version"], "group": s["group"], "name": s["name"]}
        for v in versions
        for s in v["shifts"]
        if s["psi"] > max_psi
    ]
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "window": {"since": selection.describe()["since"], "until": selection.describe()["until"]},
        "thresholds": {"watch": WATCH_PSI, "shift": SHIFT_PSI, "max_psi": max_psi},
        "versions": versions,
        "without_profile": without_profile,
        "exceeded": exceeded,
        "passed": not exceeded,
    }


def _traffic(settings, selection, models) -> dict[tuple[str, str], VersionTraffic]:
    url = settings.app_database_url()
    ensure_up_to_date(url)
    engine = create_engine_for(url)
    try:
        return production_traffic(create_session_factory(engine), selection, models)
    finally:
        engine.dispose()


def _window(window: dict[str, Any]) -> str:
    return f"since {window['since'] or 'the first capture'}, until {window['until'] or 'now'}"
