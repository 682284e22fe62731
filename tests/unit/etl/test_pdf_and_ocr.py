"""PDFs as people upload them: large files, running headers and footers, headings, scans, images."""

import pytest

from core.ingestion.planning import plan_segments
from core.ingestion.process_rules import AUTOMATIC_RULES
from core.settings import Settings
from etl.extractors import ExtractionError, extract_file
from etl.extractors.ocr import OcrSettings, TextRecognizer
from etl.structure import DocumentText
from tests import samples

SECTIONS = [
    ("1 Introduction", "Axolotls regenerate whole limbs after amputation. " * 25),
    ("1.1 Background", "Blastema cells gather under the wound epi-\ndermis within days. " * 20),
    ("2 Methods", "Regenerating limbs were photographed every second day. " * 25),
]


@pytest.fixture(scope="module")
def recognizer() -> TextRecognizer:
    return TextRecognizer(OcrSettings(threads=0))


def test_a_pdf_past_pypdfs_array_limit_loads(tmp_path):
    path = samples.make_pdf_over_array_limit(tmp_path / "big.pdf", "Quarterly revenue rose to 42 million.")
    parts = extract_file(path, "pdf")
    assert [(part.text, part.metadata) for part in parts] == [
        ("Quarterly revenue rose to 42 million.", {"page": 1})
    ]


def test_running_headers_footers_and_page_numbers_are_removed(tmp_path):
    path = samples.make_report_pdf(tmp_path / "report.pdf", SECTIONS, "ACME Regeneration Lab - Confidential")
    text = "\n".join(part.text for part in extract_file(path, "pdf"))
    assert "Confidential" not in text and "Page 2 of 3" not in text
    assert "Axolotls regenerate whole limbs" in text


def test_headings_come_from_fonts_and_numbering_and_hyphens_are_joined(tmp_path):
    path = samples.make_report_pdf(tmp_path / "report.pdf", SECTIONS, "ACME Regeneration Lab")
    parts = extract_file(path, "pdf")
    assert [part.text.splitlines()[0] for part in parts] == [
        "# 1 Introduction",
        "## 1.1 Background",
        "# 2 Methods",
    ]
    assert "epidermis" in parts[1].text and "epi-" not in parts[1].text


def test_chunks_know_their_pages_and_heading_path(tmp_path):
    path = samples.make_report_pdf(tmp_path / "report.pdf", SECTIONS, "ACME Regeneration Lab")
    document = DocumentText(extract_file(path, "pdf"))
    chunks = [
        document.text[: document.text.index("Blastema") + 20],
        "Blastema cells gather",
        "# 2 Methods\nRegen",
    ]
    places = document.places(chunks)
    assert [(place.page_start, place.page_end, place.heading_path) for place in places] == [
        (1, 2, ("1 Introduction",)),
        (2, 2, ("1 Introduction", "1.1 Background")),
        (3, 3, ("2 Methods",)),
    ]


def test_failures_say_why(tmp_path):
    with pytest.raises(ExtractionError, match="encrypted and cannot be read without its password"):
        extract_file(samples.make_encrypted_pdf(tmp_path / "locked.pdf", "Secret"), "pdf")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 100)
    with pytest.raises(ExtractionError, match="damaged or not a PDF"):
        extract_file(broken, "pdf")
    scan = samples.make_scanned_pdf(tmp_path / "scan.pdf", ["Chlorophyll absorbs red and blue light."])
    with pytest.raises(ExtractionError, match="no text layer .a scan.. and OCR is turned off"):
        extract_file(scan, "pdf")


def test_a_scanned_pdf_is_read_by_ocr(tmp_path, recognizer):
    scan = samples.make_scanned_pdf(
        tmp_path / "scan.pdf", ["Chlorophyll absorbs red and blue light.", "Stomata close at night."]
    )
    parts = extract_file(scan, "pdf", recognizer=recognizer)
    assert [part.metadata for part in parts] == [{"page": 1, "ocr": True}, {"page": 2, "ocr": True}]
    assert "Chlorophyll absorbs red and blue light" in parts[0].text
    assert "Stomata close at night" in parts[1].text


@pytest.mark.parametrize("extension", ["png", "jpg", "tiff", "bmp", "webp"])
def test_image_uploads_are_read_by_ocr(tmp_path, recognizer, extension):
    image = samples.make_text_image(tmp_path / f"note.{extension}", "Mitochondria make ATP for the cell.")
    parts = extract_file(image, extension, recognizer=recognizer)
    assert "Mitochondria make ATP for the cell" in parts[0].text


def test_images_need_ocr(tmp_path):
    image = samples.make_text_image(tmp_path / "note.png", "Mitochondria make ATP.")
    with pytest.raises(ExtractionError, match="File type not allowed"):
        extract_file(image, "png")


STATEMENT_ROWS = [(f"Segment {n} net revenue", f"{1000 + 37 * n:,}", f"{900 + 29 * n:,}") for n in range(40)]


def test_a_pdf_table_becomes_rows_with_their_header_and_is_cut_between_rows(tmp_path):
    caption = "Condensed Consolidated Statements of Operations"
    path = samples.make_statement_pdf(tmp_path / "statement.pdf", caption, STATEMENT_ROWS)
    [part] = extract_file(path, "pdf")
    header = "| | Three Months Ended July 1, 2023 | Three Months Ended June 25, 2022 |"
    assert f"{caption}\n{header}\n| --- | --- | --- |\n| Segment 0 net revenue | 1,000 | 900 |" in part.text
    assert "| Segment 39 net revenue | 2,443 | 2,031 |" in part.text
    rule = {"mode": "automatic", "rules": AUTOMATIC_RULES}
    planned = plan_segments(Settings(), "text_model", None, rule, [part], None, "pdf", "statement.pdf")
    pieces = [plan.content for plan in planned if "| Segment" in plan.content]
    assert len(pieces) > 2 and pieces[0].startswith(caption)
    assert all(f"{header}\n| --- | --- | --- |\n| Segment" in piece for piece in pieces)
    rows = [line for piece in pieces for line in piece.split("\n") if line.startswith("| Segment")]
    assert rows == [f"| {label} | {this} | {last} |" for label, this, last in STATEMENT_ROWS]


def test_prose_lists_and_forms_are_not_taken_for_tables(tmp_path):
    path = samples.make_report_pdf(tmp_path / "report.pdf", SECTIONS, "ACME Regeneration Lab")
    assert not any("|" in part.text for part in extract_file(path, "pdf"))


@pytest.mark.parametrize("angle", [90, 270])
def test_a_page_scanned_sideways_is_read_either_way(tmp_path, recognizer, angle):
    from PIL import Image

    image = samples.make_text_image(tmp_path / "page.png", "Sideways scans still read in order.")
    turned = Image.open(image).rotate(angle, expand=True)
    assert recognizer.read(turned).replace(" ", "") == "Sidewaysscansstillreadinorder."
