from training.text.features import char_view, normalize_text, tokenize, word_view


def test_normalize_folds_full_width_and_case_and_long_numbers():
    assert normalize_text("５Ｇ套餐ＷｉＦｉ") == "5g套餐wifi"
    assert normalize_text("拨打10086或13812345678") == "拨打000或000"


def test_short_numbers_keep_their_meaning():
    assert "5g" in word_view("我想办5G套餐")
    assert "4g" in word_view("我想办4G套餐")


def test_tokenize_cuts_words_and_drops_punctuation():
    words = tokenize("宽带断网了！！怎么回事？")
    assert "宽带" in words
    assert not any(word in {"！", "?", "？", "!"} for word in words)
    assert all(word.strip() for word in words)


def test_char_view_squeezes_out_punctuation_and_spaces():
    assert char_view("流量 用完了，。。 WiFi!") == "流量用完了wifi"


def test_tokenizer_is_picklable_by_reference():
    import pickle

    assert pickle.loads(pickle.dumps(word_view)) is word_view


def test_traditional_characters_fold_to_simplified_and_mainland_words_stay():
    assert normalize_text("寬頻斷網三天了，網路訊號很差") == "宽频断网三天了,网路讯号很差"
    # Character by character only: a phrase table for Taiwan usage would rewrite these.
    for mainland in ("怎么取消呼叫转移", "为什么打低分"):
        assert normalize_text(mainland) == mainland


def test_full_width_forms_fold_before_traditional_ones():
    assert normalize_text("ＡＰＰ登錄不了，５Ｇ") == "app登录不了,5g"


def test_remembered_cuts_cut_each_text_once_and_only_inside_the_block(monkeypatch):
    from training.text import features as text_features

    cuts = []
    real_cut = text_features._cut
    monkeypatch.setattr(text_features, "_cut", lambda text: cuts.append(text) or real_cut(text))
    with text_features.remembered_cuts():
        first = tokenize("宽带断网了")
        assert tokenize("宽带断网了") == first
    assert cuts == ["宽带断网了"]
    tokenize("宽带断网了")
    assert cuts == ["宽带断网了"] * 2  # outside the block, every call cuts
