"""The context line read before each chunk: a title that means something, and the heading path."""

from etl.structure import context_line, document_title


def test_titles_that_are_only_ids_are_left_out_of_the_context():
    assert [
        document_title(name) for name in ("4983", "20080124X00101.pdf", "2023 Q3 AAPL.pdf", "notes.md")
    ] == [
        "",
        "",
        "2023 Q3 AAPL",
        "notes",
    ]


def test_the_context_line_joins_what_there_is():
    assert (
        context_line("2023 Q3 AAPL", ("Statements", "Operations")) == "2023 Q3 AAPL › Statements › Operations"
    )
    assert context_line("", ("Methods",)) == "Methods"
