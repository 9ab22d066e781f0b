"""When a text model's answer needs a person: the confidence floor and the evidence words."""

import math

import numpy as np
import pytest

from training.text.features import evidence_terms, normalize_text
from training.text.review import ReviewRule, confidence_floor, evidence_words
from training.text.terms import TextBatch


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
    texts = TextBatch(["宽带又断网了", "宽 带 又 断 网"])
    assert "宽带" in texts.words[0] and "宽带" not in texts.words[1]
    assert older.evidence_in(texts).tolist() == [older.has_evidence(w) for w in texts.words]


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


EVIDENCE_PROBES = [
    "宽带又断网了，断网！",
    "好",
    "好!",
    "你好 hello 5G套餐",
    "。。。",
    "",
    "a宽b带c",
    "１２３４５宽带",
    "٣宽٣带",  # digits of other scripts split runs too
    "宽_带",
    "Ｗｉｆｉ信号差",
    "宽ꙮ带",  # the letter batches are joined by, inside a text
]


def test_evidence_found_for_a_batch_is_evidence_terms_text_by_text(demand_corpus):
    texts = EVIDENCE_PROBES + demand_corpus["text"].head(300).tolist()
    labels = demand_corpus["category"].fillna("spam").head(300).tolist()
    words = evidence_words(demand_corpus["text"].head(300).tolist(), labels)
    rules = [
        ReviewRule(0.5, 0.95, 1.0, 1.0, words),
        ReviewRule(0.5, 0.95, 1.0, 1.0, frozenset({"好", "hello", "断网", "宽带", "wifi", "000"})),
    ]
    batches = [TextBatch(texts), TextBatch([*texts, "ꙮ"])]  # joined, and text by text
    batches += [TextBatch([text]) for text in EVIDENCE_PROBES]  # cut in Python
    for batch in batches:
        for rule in rules:
            expected = [
                rule.has_evidence(evidence_terms(normalize_text(text))) for text in batch.texts
            ]
            assert rule.evidence_in(batch).tolist() == expected


def test_a_batchs_evidence_terms_are_each_texts():
    from training.text.terms import ngram_code

    found = TextBatch(EVIDENCE_PROBES).evidence
    for row, text in enumerate(EVIDENCE_PROBES):
        terms = evidence_terms(normalize_text(text))
        coded = sorted(found.codes[found.rows == row].tolist())
        assert coded == sorted(ngram_code(t) for t in terms if not t.isascii())
        assert found.as_text[row] == [t for t in terms if t.isascii()]
    few = TextBatch(EVIDENCE_PROBES[:3]).evidence  # cut text by text, nothing coded
    assert few.as_text == [evidence_terms(normalize_text(t)) for t in EVIDENCE_PROBES[:3]]


def test_a_rule_that_has_looked_for_evidence_still_pickles_as_it_was_learned():
    import pickle

    rule = _rule()
    rule.evidence_in(TextBatch(["宽带又断网了"]))
    restored = pickle.loads(pickle.dumps(rule))
    assert restored == rule and "_evidence_codes" not in vars(restored)
