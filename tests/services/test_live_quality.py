"""Live quality from stored feedback, on SQLite and PostgreSQL: corrections against the answers
they correct, outcomes against the customer models' latest answers given on or before the
outcome's date, the window, and the figures that cannot be computed saying why."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sklearn.metrics import f1_score, roc_auc_score

from app.db.models import Customer, CustomerOutcome, CustomerScore, TextCorrection
from app.services.live_quality import NO_ROWS, Window, live_quality

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
TODAY = NOW.date()


def _refs(demand: str = "1", spam: str = "1") -> list[dict[str, str]]:
    return [
        {"name": "demand-classifier", "version": demand, "alias": "production"},
        {"name": "spam-filter", "version": spam, "alias": "production"},
    ]


def _correction(
    key: str, *, said: str, right: str | None, at=NOW, spam=None, said_spam=False, **refs
):
    return TextCorrection(
        key=key,
        text="masked text",
        category=right,
        spam=spam,
        answered={"category": said, "spam": said_spam, "models": _refs(**refs)},
        corrected_by="agent",
        received_at=at,
    )


def _customer(session, customer_id: str, model: str, output: dict, *, version="3", at=NOW):
    if session.get(Customer, customer_id) is None:
        session.add(Customer(customer_id=customer_id, record={"age": 30}))
        session.flush()
    session.add(
        CustomerScore(
            customer_id=customer_id,
            model_name=model,
            model_version=version,
            model_alias="production",
            output=output,
            scored_at=at,
        )
    )


def _outcome(customer_id: str, as_of: date = TODAY, at=NOW, **verdicts) -> CustomerOutcome:
    return CustomerOutcome(
        customer_id=customer_id, as_of=as_of, reported_by="dw", received_at=at, **verdicts
    )


def _by_version(qualities) -> dict:
    return {(q.model, q.version): q for q in qualities}


def _figure(quality, metric: str):
    (figure,) = [f for f in quality.figures if f.metric == metric]
    return figure


def test_corrections_judge_the_version_that_answered(session):
    session.add_all(
        [
            _correction("k1", said="宽带故障", right="宽带故障"),
            _correction("k2", said="宽带故障", right="资费套餐"),
            _correction("k3", said="资费套餐", right="资费套餐"),
            _correction("k4", said="网络信号", right="网络信号"),
            _correction("k5", said="网络信号", right="宽带故障", demand="2"),
            _correction("k6", said="网络信号", right=None, spam=True, said_spam=False),
        ]
    )
    session.flush()
    qualities = _by_version(live_quality(session, Window()))
    first = qualities["demand-classifier", "1"]
    assert first.rows == 4 and _figure(first, "accuracy").live == 3 / 4
    truth, said = (
        ["宽带故障", "资费套餐", "资费套餐", "网络信号"],
        ["宽带故障", "宽带故障", "资费套餐", "网络信号"],
    )
    assert _figure(first, "macro_f1").live == pytest.approx(f1_score(truth, said, average="macro"))
    second = qualities["demand-classifier", "2"]
    assert second.rows == 1 and _figure(second, "accuracy").live == 0.0
    spam = qualities["spam-filter", "1"]  # only k6 carries a spam verdict
    assert spam.rows == 1 and _figure(spam, "accuracy").live == 0.0


def test_the_window_bounds_when_feedback_was_received(session):
    session.add_all(
        [
            _correction("old", said="宽带故障", right="资费套餐", at=NOW - timedelta(days=40)),
            _correction("new", said="宽带故障", right="宽带故障", at=NOW - timedelta(days=1)),
            _correction("later", said="宽带故障", right="资费套餐", at=NOW + timedelta(days=1)),
        ]
    )
    session.flush()
    window = Window(since=NOW - timedelta(days=30), until=NOW)
    (quality,) = live_quality(session, window)
    assert quality.rows == 1 and _figure(quality, "accuracy").live == 1.0
    everything = live_quality(session, Window())[0]
    assert everything.rows == 3 and _figure(everything, "accuracy").live == pytest.approx(1 / 3)


def test_churn_roc_auc_pairs_outcomes_with_scores_given_by_their_date(session):
    probabilities = {"A": 0.9, "B": 0.2, "C": 0.6, "D": 0.4, "E": 0.7}
    churned = {"A": True, "B": False, "C": False, "D": True, "E": True}
    for customer_id, probability in probabilities.items():
        _customer(session, customer_id, "churn", {"churn_probability": probability})
        session.add(_outcome(customer_id, churned=churned[customer_id]))
    # E's answer came after its outcome's date: no forecast of it, left out.
    session.add(_outcome("E", as_of=TODAY - timedelta(days=1), churned=False))
    session.execute(
        CustomerScore.__table__.update()
        .where(CustomerScore.customer_id == "E")
        .values(scored_at=NOW + timedelta(days=1))
    )
    session.flush()
    (quality,) = live_quality(session, Window())
    pairs = ["A", "B", "C", "D"]
    expected = roc_auc_score([churned[c] for c in pairs], [probabilities[c] for c in pairs])
    assert (quality.model, quality.version, quality.rows) == ("churn", "3", 4)
    assert _figure(quality, "roc_auc").live == pytest.approx(expected) and expected == 0.75


def test_one_class_only_says_why_instead_of_a_number(session):
    for customer_id in ("A", "B"):
        _customer(session, customer_id, "churn", {"churn_probability": 0.3})
        session.add(_outcome(customer_id, churned=False))
    session.flush()
    figure = _figure(live_quality(session, Window())[0], "roc_auc")
    assert figure.live is None and figure.note == "one class only: every customer stayed"


def test_channels_mean_roc_auc_leaves_out_targets_whose_outcomes_are_alike(session):
    answers = {
        "A": {"app_probability": 0.9, "web_probability": 0.1, "app_level": "依赖"},
        "B": {"app_probability": 0.2, "web_probability": 0.8, "app_level": "偶尔接触"},
        "C": {"app_probability": 0.6, "web_probability": 0.3, "app_level": "普通依赖"},
    }
    used = {"A": ["app"], "B": ["app"], "C": []}  # web: nobody, so it cannot be ranked
    for customer_id, output in answers.items():
        _customer(session, customer_id, "channel-preference", output)
        session.add(_outcome(customer_id, channels=used[customer_id]))
    session.flush()
    figure = _figure(live_quality(session, Window())[0], "mean_roc_auc")
    assert figure.live == pytest.approx(roc_auc_score([1, 1, 0], [0.9, 0.2, 0.6]))
    assert figure.note == "over 1 of 2 targets (web: outcomes all alike)"


def test_occupation_is_judged_on_the_answered_class(session):
    for customer_id, said, right in (
        ("A", "学生", "学生"),
        ("B", "司机", "学生"),
        ("C", "司机", "司机"),
    ):
        _customer(session, customer_id, "occupation", {"occupation": said, "p_学生": 0.5})
        session.add(_outcome(customer_id, occupation=right))
    session.flush()
    quality = live_quality(session, Window())[0]
    assert quality.rows == 3 and _figure(quality, "accuracy").live == pytest.approx(2 / 3)


def test_a_serving_version_without_feedback_is_listed_with_no_rows(session):
    qualities = live_quality(session, Window(), serving={"churn": "7", "astrology": "1"})
    (quality,) = qualities
    assert (quality.model, quality.version, quality.rows) == ("churn", "7", 0)
    assert [(f.live, f.note) for f in quality.figures] == [(None, NO_ROWS)]


def test_the_gauges_list_the_first_loaded_versions_soon_not_an_interval_late(
    module_engine, tmp_path
):
    """The first round runs while the models load (none served yet); the next comes within
    about a second once they are, not after the 300 s interval."""
    from sqlalchemy.orm import sessionmaker

    from app.services.quality_gauges import LiveQualityGauges
    from model_registry.store import MlflowStore

    loaded: dict[str, str] = {}
    gauges = LiveQualityGauges(
        sessionmaker(bind=module_engine),
        MlflowStore.embedded(tmp_path).activate,  # an empty registry: no training figures
        lambda: dict(loaded),
        interval_s=300,
        window=timedelta(days=30),
    )
    gauges.start()
    try:
        time.sleep(0.2)  # the first round, with nothing loaded
        loaded["churn"] = "7"
        deadline = time.monotonic() + 10
        while not _gauge_samples(gauges):
            assert time.monotonic() < deadline, "the loaded version never showed"
            time.sleep(0.05)
    finally:
        gauges.stop()
    assert [(s.name, s.labels, s.value) for s in _gauge_samples(gauges)] == [
        ("insight_feedback_rows", {"model": "churn", "version": "7"}, 0.0)
    ]


def _gauge_samples(gauges) -> list:
    return [sample for family in gauges.snapshot.collect() for sample in family.samples]
