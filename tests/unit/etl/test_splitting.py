import pytest

from etl.splitting import (
    FULL_DOC_PARENT_MAX_LENGTH,
    Segmentation,
    SegmentationError,
    check_segmentation,
    decode_separator,
    split_automatic,
    split_general,
    split_parent_child,
    split_recursive,
)


def test_separator_escapes():
    assert decode_separator("\\n") == "\n"
    assert decode_separator("\\n\\n") == "\n\n"
    assert decode_separator("\\t|\\u3002") == "\t|。"
    assert decode_separator("###") == "###"


def test_pieces_that_fit_are_chunks_of_their_own():
    text = "alpha\nbeta\n\ngamma delta"
    assert split_general(text, Segmentation("\\n", 100, 0)) == ["alpha", "beta", "gamma delta"]


def test_long_pieces_split_recursively_within_the_limit():
    sentence = "Cells store energy as ATP. "
    text = sentence * 40
    chunks = split_general(text, Segmentation("\\n", 120, 0))
    assert all(len(chunk) <= 120 for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "").strip()


def test_overlap_carries_context_between_chunks():
    words = " ".join(f"w{i:03d}" for i in range(200))
    chunks = split_recursive(words, 100, 30)
    assert all(len(chunk) <= 100 for chunk in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        first_word = current.split()[0]
        assert first_word in previous, "each chunk starts inside the previous one"


def test_recursive_separators_include_chinese_full_stop():
    text = "。".join(["自然语言处理是人工智能的一个分支"] * 20) + "。"
    chunks = split_recursive(text, 60, 0)
    assert all(len(chunk) <= 60 for chunk in chunks)
    assert all(chunk.endswith("。") for chunk in chunks)


def test_unbreakable_text_falls_back_to_characters():
    chunks = split_recursive("x" * 250, 100, 10)
    assert [len(chunk) for chunk in chunks] == [100, 100, 70]


def test_automatic_mode_uses_500_with_overlap_50():
    text = ("Energy flows through ecosystems. " * 60).strip()
    chunks = split_automatic(text)
    assert len(chunks) > 1 and all(len(chunk) <= 500 for chunk in chunks)


def test_leading_full_stops_and_blank_chunks_are_dropped():
    assert split_general("a\n\n. b\n   \n。c", Segmentation("\\n", 100, 0)) == ["a", "b", "c"]


def test_length_limits():
    check_segmentation(Segmentation("\n", 50, 0), 4000)
    check_segmentation(Segmentation("\n", 4000, 100), 4000)
    for bad in (Segmentation("\n", 49, 0), Segmentation("\n", 4001, 0), Segmentation("\n", 100, 101)):
        with pytest.raises(SegmentationError, match="Custom segment length should be between 50 and 4000."):
            check_segmentation(bad, 4000)


def test_parent_child_paragraph_mode():
    text = "Parent one sentence a. Parent one sentence b.\n\nParent two sentence c."
    parents = split_parent_child(text, "paragraph", Segmentation("\\n\\n", 500, 0), Segmentation(". ", 60, 0))
    assert [p.content for p in parents] == [
        "Parent one sentence a. Parent one sentence b.",
        "Parent two sentence c.",
    ]
    assert parents[0].children == ["Parent one sentence a", "Parent one sentence b."]


def test_parent_child_full_doc_mode_caps_the_parent():
    text = "word " * 3000
    parents = split_parent_child(text, "full-doc", None, Segmentation(" ", 100, 0))
    assert len(parents) == 1 and len(parents[0].content) <= FULL_DOC_PARENT_MAX_LENGTH
    assert len(parents[0].children) == len(parents[0].content.split())
