"""Stage, gated promotion, force and rollback against a real registry, with the audit rows they
leave in the app database (SQLite, and PostgreSQL when INSIGHT_TEST_POSTGRES_URL is set)."""

import pytest
from sqlalchemy import func, select

from app.db.models import ModelEvent
from app.db.session import session_scope
from app.services.model_lifecycle import (
    LifecycleError,
    PromotionRefused,
    describe_model,
    model_history,
    production_versions,
    promote_version,
    rollback_production,
    stage_version,
)
from model_registry.gates import EVALUATION, SIGNATURE, SMOKE_TEST
from model_registry.registry import alias_version
from tests.model_registry.versions import CHURN


def _production(churn) -> str | None:
    return alias_version(churn.store.activate(), CHURN, "production")


def _lifecycle(churn, sessions):
    return {"client": churn.store.activate(), "sessions": sessions, "name": CHURN}


def _event_count(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(ModelEvent))


def test_stage_then_promote_the_staged_version_records_both(churn, sessions):
    staged = stage_version(
        **_lifecycle(churn, sessions), version=churn.twin, actor="alice", reason="new data"
    )
    assert (staged.action, staged.alias, staged.from_version, staged.to_version) == (
        "stage",
        "staging",
        None,
        churn.twin,
    )
    promotion = promote_version(**_lifecycle(churn, sessions), version=None, actor="bob")
    assert promotion.version == churn.twin and _production(churn) == churn.twin
    history = model_history(sessions, CHURN)
    assert [(e.action, e.actor) for e in history] == [("stage", "alice"), ("promote", "bob")]
    promoted = history[1]
    assert (promoted.from_version, promoted.to_version, promoted.forced) == (
        churn.base,
        churn.twin,
        False,
    )
    assert [g["name"] for g in promoted.gates] == [SIGNATURE, SMOKE_TEST, EVALUATION]
    assert all(g["passed"] for g in promoted.gates)
    assert promoted.at.tzinfo is not None


def test_promote_without_a_staged_version_is_refused_clearly(churn, sessions):
    with pytest.raises(LifecycleError, match="churn has no staged version"):
        promote_version(**_lifecycle(churn, sessions), version=None, actor="bob")


@pytest.mark.parametrize(
    ("purpose", "gate"),
    [("other_columns", SIGNATURE), ("broken", SMOKE_TEST), ("shuffled", EVALUATION)],
)
def test_a_failed_gate_refuses_and_changes_nothing(churn, sessions, purpose, gate):
    version = getattr(churn, purpose)
    with pytest.raises(PromotionRefused) as refused:
        promote_version(**_lifecycle(churn, sessions), version=version, actor="bob")
    assert f"{gate}:" in str(refused.value) and "Production is unchanged" in str(refused.value)
    assert [g.name for g in refused.value.gates if not g.passed] == [gate]
    assert _production(churn) == churn.base
    assert _event_count(sessions) == 0  # refused attempts leave no row: only moves are recorded


def test_force_needs_a_reason(churn, sessions):
    for reason in (None, "  "):
        with pytest.raises(LifecycleError, match="--force needs --reason"):
            promote_version(
                **_lifecycle(churn, sessions),
                version=churn.shuffled,
                actor="bob",
                force=True,
                reason=reason,
            )
    assert _production(churn) == churn.base


def test_forced_promotion_is_recorded_with_its_failed_gates(churn, sessions):
    promotion = promote_version(
        **_lifecycle(churn, sessions),
        version=churn.shuffled,
        actor="carol",
        force=True,
        reason="需要紧急上线 (incident 42)",
    )
    assert _production(churn) == churn.shuffled
    (event,) = model_history(sessions, CHURN)
    assert event.forced and event.reason == "需要紧急上线 (incident 42)"
    assert [g["name"] for g in event.gates if not g["passed"]] == [EVALUATION]
    assert promotion.event is not None and promotion.event.id == event.id


def test_force_with_every_gate_passing_is_not_marked_forced(churn, sessions):
    promote_version(
        **_lifecycle(churn, sessions), version=churn.twin, actor="d", force=True, reason="r"
    )
    (event,) = model_history(sessions, CHURN)
    assert not event.forced


def test_promoting_the_version_already_in_production_does_nothing(churn, sessions):
    promotion = promote_version(**_lifecycle(churn, sessions), version=churn.base, actor="x")
    assert promotion.event is None and _event_count(sessions) == 0


def test_rollback_walks_back_through_the_recorded_promotions(churn, sessions):
    with pytest.raises(LifecycleError, match="no earlier production version is recorded"):
        rollback_production(**_lifecycle(churn, sessions), actor="eve")
    promote_version(**_lifecycle(churn, sessions), version=churn.twin, actor="bob")
    promote_version(
        **_lifecycle(churn, sessions), version=churn.shuffled, actor="bob", force=True, reason="r"
    )
    first = rollback_production(**_lifecycle(churn, sessions), actor="eve", reason="worse")
    assert (first.from_version, first.to_version) == (churn.shuffled, churn.twin)
    assert _production(churn) == churn.twin
    second = rollback_production(**_lifecycle(churn, sessions), actor="eve")
    assert (second.from_version, second.to_version) == (churn.twin, churn.base)
    assert _production(churn) == churn.base
    with pytest.raises(LifecycleError, match="no earlier production version is recorded"):
        rollback_production(**_lifecycle(churn, sessions), actor="eve")
    actions = [(e.action, e.actor, e.reason) for e in model_history(sessions, CHURN)]
    assert actions[2:] == [("rollback", "eve", "worse"), ("rollback", "eve", None)]


def test_rollback_refuses_when_the_alias_moved_outside_the_trail(churn, sessions):
    promote_version(**_lifecycle(churn, sessions), version=churn.twin, actor="bob")
    churn.store.activate().set_registered_model_alias(CHURN, "production", churn.shuffled)
    with pytest.raises(LifecycleError, match="moved outside `insight models`"):
        rollback_production(**_lifecycle(churn, sessions), actor="eve")
    assert _production(churn) == churn.shuffled


def test_production_versions_stack_promotions_and_pop_rollbacks():
    def event(action, before, after, alias="production"):
        return ModelEvent(action=action, alias=alias, from_version=before, to_version=after)

    events = [
        event("promote", "1", "2"),
        event("stage", None, "5", alias="staging"),
        event("promote", "2", "3"),
        event("rollback", "3", "2"),
        event("promote", "2", "4"),
    ]
    assert production_versions(events) == ["1", "2", "4"]
    moved_outside = [event("promote", "1", "2"), event("promote", "7", "8")]
    assert production_versions(moved_outside) == ["1", "2", "7", "8"]
    assert production_versions([]) == []


def test_describe_lists_versions_with_figures_and_the_history(churn, sessions):
    stage_version(**_lifecycle(churn, sessions), version=churn.twin, actor="alice")
    description = describe_model(**_lifecycle(churn, sessions))
    versions = {summary.version: (summary, metrics) for summary, metrics in description.versions}
    assert versions[churn.base][0].aliases == ("production",)
    assert versions[churn.twin][0].aliases == ("staging",)
    assert list(versions[churn.base][1]) == ["roc_auc", "pr_auc"]
    assert versions[churn.shuffled][1]["roc_auc"] < versions[churn.base][1]["roc_auc"] - 0.1
    as_dict = description.as_dict()
    assert as_dict["history"][0]["action"] == "stage" and as_dict["name"] == CHURN


def test_stage_latest_stages_the_newest_version_and_records_the_one_it_replaced(churn, sessions):
    stage_version(**_lifecycle(churn, sessions), version=churn.twin, actor="alice")
    event = stage_version(**_lifecycle(churn, sessions), version="latest", actor="alice")
    assert (event.from_version, event.to_version) == (churn.twin, churn.broken)
    assert alias_version(churn.store.activate(), CHURN, "staging") == churn.broken
