from etl.cleaning import REMOVE_EXTRA_SPACES, REMOVE_URLS_EMAILS, clean_text


def test_always_on_cleanup():
    assert clean_text("a<|b|>c\x00\x07d\ufffe") == "a<b>cd"
    assert clean_text("keep\ttabs\nand\r\nnewlines") == "keep\ttabs\nand\r\nnewlines"


def test_remove_extra_spaces():
    text = "one\n\n\n\n two  \u00a0 three\u3000\u3000four\n\nfive"
    assert clean_text(text, {REMOVE_EXTRA_SPACES}) == "one\n\n two three four\n\nfive"
    assert clean_text(text) == text


def test_remove_urls_and_emails_keeps_markdown_images():
    text = "Mail ann@example.org or see https://example.org/a?b=1 ![chart](https://img.example.org/c.png) end"
    assert (
        clean_text(text, {REMOVE_URLS_EMAILS}) == "Mail  or see  ![chart](https://img.example.org/c.png) end"
    )
