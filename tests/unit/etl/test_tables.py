"""A table longer than a chunk is cut between rows, each piece with the header, the caption first."""

from core.ingestion.planning import plan_segments
from core.ingestion.process_rules import AUTOMATIC_RULES
from core.settings import Settings
from etl.extractors.base import ExtractedPart
from etl.tables import table_runs

HEADER = "| Quarter | Revenue (USD m) | Operating margin |\n|---|---:|---:|"
ROWS = [f"| Q{n % 4 + 1} {2000 + n // 4} | {1000 + n * 7:,} | {10 + n % 9}.{n % 10} % |" for n in range(60)]
DOCUMENT = (
    "# Results\n\nRevenue grew in every quarter of the decade.\n\n"
    "Table 3. Quarterly revenue and margin\n" + HEADER + "\n" + "\n".join(ROWS) + "\n\nThe end of the report."
)


def _rows(text: str) -> list[str]:
    return [line for line in text.split("\n") if line in ROWS]


def test_a_long_table_is_cut_between_rows_with_its_header_in_every_piece():
    runs = table_runs(DOCUMENT, 500)
    pieces = [run.text for run in runs if run.is_table]
    assert len(pieces) > 3 and all(len(piece) <= 500 for piece in pieces)
    assert pieces[0].startswith("Table 3. Quarterly revenue and margin\n" + HEADER + "\n")
    assert all(piece.startswith(HEADER + "\n") for piece in pieces[1:])
    assert [row for piece in pieces for row in _rows(piece)] == ROWS  # every row whole, once, in order
    assert [run.text for run in runs if not run.is_table] == [
        "# Results\n\nRevenue grew in every quarter of the decade.\n",
        "\nThe end of the report.",
    ]


def test_planned_chunks_keep_table_rows_whole():
    rule = {"mode": "automatic", "rules": AUTOMATIC_RULES}
    planned = plan_segments(
        Settings(), "text_model", None, rule, [ExtractedPart(DOCUMENT)], None, "md", "report.md"
    )
    table_chunks = [plan for plan in planned if "| Q" in plan.content]
    assert len(table_chunks) > 3
    for plan in table_chunks:
        assert HEADER in plan.content
        body = [line for line in plan.content.split("\n") if line.startswith("| Q") and line not in HEADER]
        assert body == _rows(plan.content)  # no row cut short
        assert plan.context == "report › Results"


def test_text_without_tables_is_one_run():
    assert [(run.text, run.is_table) for run in table_runs("Just | one pipe.\nAnd prose.", 500)] == [
        ("Just | one pipe.\nAnd prose.", False)
    ]
