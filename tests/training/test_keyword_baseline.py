from training.text.keyword_baseline import KeywordClassifier

TEXTS = ["宽带断网了", "宽带很慢", "宽带报修", "流量用完了", "流量超了", "流量包", "账单不对"] * 3
LABELS = ["宽带"] * 3 + ["流量"] * 3 + ["账单"]


def test_keywords_are_picked_per_class_from_the_training_data():
    model = KeywordClassifier(n_keywords=5).fit(TEXTS, LABELS * 3)
    assert "宽带" in model.keywords_["宽带"]
    assert "流量" in model.keywords_["流量"]
    assert "宽带" not in model.keywords_["流量"]


def test_weighted_matching_picks_the_class_with_the_heaviest_keywords():
    model = KeywordClassifier(n_keywords=5).fit(TEXTS, LABELS * 3)
    assert list(model.predict(["我家宽带又断了", "这个月流量不够用"])) == ["宽带", "流量"]


def test_a_text_without_keywords_gets_the_most_frequent_class():
    model = KeywordClassifier(n_keywords=5).fit(TEXTS, LABELS * 3)
    assert model.predict(["你好"])[0] in {"宽带", "流量"}
    assert model.predict(["你好"])[0] == model.default_class_
