"""When a text model's answer needs a person: the confidence floor and the evidence words."""

import math

import numpy as np
import pytest

from training.text.features import evidence_terms
from training.text.model import AnalyzedText
from training.text.review import ReviewRule, confidence_floor, evidence_words


def _floor(confidence, correct, target):
    return confidence_floor(np.array(confidence), np.array(correct, dtype=bool), target)


def test_the_floor_is_the_lowest_confidence_whose_answers_above_reach_the_target():
    confidence, correct = [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]
    assert _floor(confidence, correct, 0.95) == (0.8, 0.5, 1.0)
    # Exactly at the target counts: 3 of the 4 answers at or above 0.6 are right.
    assert _floor(confidence, correct, 0.75) == (0.6, 1.0, 0.75)
    assert _floor(confidence, correct, 0.76) == (0.8, 0.5, 1.0)


def test_equally_confident_answers_fall_on_the_same_side():
    # At 0.9 one of two answers is right: a floor of 0.9 keeps both, so it is 50% precise.
    assert _floor([0.9, 0.9, 0.8], [1, 0, 1], 0.9) == (
        math.inf,
        0.0,
        pytest.approx(math.nan, nan_ok=True),
    )
    assert _floor([0.9, 0.9, 0.8], [1, 0, 1], 0.6)[0] == 0.8


def test_no_floor_when_no_confidence_reaches_the_target():
    floor, coverage, precision = _floor([0.9, 0.5], [0, 0], 0.95)
    assert floor == math.inf and coverage == 0 and math.isnan(precision)


def _rule(min_confidence=0.8, words=("宽带",)):
    return ReviewRule(min_confidence, 0.95, 0.7, 0.96, frozenset(words))


def test_an_answer_needs_review_below_the_floor_or_without_evidence():
    rule = _rule()
    assert rule.confident(0.8) and not rule.confident(0.7999)
    assert rule.has_evidence(["宽带", "断"])
    assert not rule.has_evidence(["你好"]) and not rule.has_evidence([])


def test_evidence_terms_keep_latin_runs_whole_and_cut_chinese_into_bigrams_and_trigrams():
    assert evidence_terms("5g信号不好,my app登录") == [
        *("5g", "信号", "号不", "不好", "信号不", "号不好"),
        *("my", "app", "登录"),
    ]
    assert evidence_terms("好!") == ["好"] and evidence_terms("。。。") == []


def test_a_rule_learned_before_evidence_terms_reads_jieba_words():
    rule = _rule()
    assert rule.evidence_cut == "terms"
    older = ReviewRule.__new__(ReviewRule)
    older.__setstate__({k: v for k, v in vars(rule).items() if k != "evidence_cut"})
    assert older.evidence_cut == "jieba" and older.evidence_words == rule.evidence_words
    text = AnalyzedText("宽带又断网了")
    assert older.terms_of(text) == text.words and "宽带" in text.words
    assert rule.terms_of(text) == evidence_terms(text.normalized)


def test_evidence_is_a_word_tied_to_a_class_never_a_greeting_all_share_nor_a_number():
    texts, labels = [], []
    for i in range(40):
        texts.append(f"你好，宽带断网了，单号{10000 + i}")
        labels.append("宽带故障")
        texts.append("你好，这个月账单多扣钱了" if i % 2 else "你好，话费账单不对")
        labels.append("账单查询")
    words = evidence_words(texts, labels)
    assert {"宽带", "账单"} <= words
    assert "你好" not in words  # in every text of both classes
    assert "000" not in words  # the number token, only in one class, still is no evidence


def test_a_rare_word_is_not_evidence_until_the_data_shows_it_enough():
    texts = ["宽带断网了"] * 30 + ["话费账单不对"] * 30 + ["光猫亮红灯"] * 2
    labels = ["宽带故障"] * 30 + ["账单查询"] * 30 + ["宽带故障"] * 2
    words = evidence_words(texts, labels)
    assert "宽带" in words and "光猫" not in words  # seen twice: not enough to be sure
