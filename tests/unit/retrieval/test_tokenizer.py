from retrieval.tokenizer import tokenize


def test_latin_text_is_lowercased_stopworded_and_stemmed():
    assert tokenize("The Running dogs are RUNNING into the parks") == ["run", "dog", "run", "park"]


def test_cjk_text_is_segmented_with_jieba():
    terms = tokenize("我们在北京大学学习自然语言处理")
    assert "北京大学" in terms and "自然语言" in terms and "我们" not in terms


def test_mixed_text_keeps_order_and_numbers():
    assert tokenize("GPU加速 2024 models") == ["gpu", "加速", "2024", "model"]


def test_punctuation_only_gives_nothing():
    assert tokenize("... --- !!!") == []
