"""Every supported file type, from real files the tests write with the library made for each format."""

import zipfile

import pytest

from etl.extractors import ExtractionError, extract_file, supported_extensions
from etl.extractors.archives import ArchiveLimits, check_archive
from etl.extractors.registry import read_table_rows
from tests import samples
from tests.samples import PARAGRAPH


def test_pdf_is_read_page_by_page(tmp_path):
    path = samples.make_pdf(tmp_path / "a.pdf", ["First page about cells.", "Second page about energy."])
    parts = extract_file(path, "pdf")
    assert [part.metadata["page"] for part in parts] == [1, 2]
    assert "First page" in parts[0].text and "Second page" in parts[1].text


def test_encrypted_pdf_fails_with_a_clear_message(tmp_path):
    path = samples.make_encrypted_pdf(tmp_path / "locked.pdf", "Secret text")
    with pytest.raises(ExtractionError, match="encrypted"):
        extract_file(path, "pdf")


def test_corrupt_pdf_fails_with_a_clear_message(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 100)
    with pytest.raises(ExtractionError, match="PDF"):
        extract_file(path, "pdf")


def test_docx_keeps_headings_and_tables_in_order(tmp_path):
    text = extract_file(samples.make_docx(tmp_path / "a.docx"), "docx")[0].text
    assert text.startswith("# Cell biology")
    assert PARAGRAPH in text
    assert "Organelle: Chloroplast; Role: Photosynthesis" in text
    assert text.index(PARAGRAPH) < text.index("Organelle: Mitochondrion")


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path):
    with pytest.raises(ExtractionError, match="ZIP bomb"):
        extract_file(samples.make_zip_bomb_docx(tmp_path / "bomb.docx"), "docx")


def test_corrupt_docx(tmp_path):
    path = tmp_path / "fake.docx"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ExtractionError, match="DOCX"):
        extract_file(path, "docx")


def test_xlsx_rows_are_named_by_headers(tmp_path):
    rows = [["Name", "Age", "City"], ["Ada", 36, "London"], ["Alan", 41.0, None]]
    parts = extract_file(samples.make_xlsx(tmp_path / "a.xlsx", rows, sheet="People"), "xlsx")
    assert parts[0].metadata == {"sheet": "People"}
    assert parts[0].text == "Name: Ada; Age: 36; City: London\nName: Alan; Age: 41"


def test_xls_rows_are_named_by_headers(tmp_path):
    rows = [["Name", "Age"], ["Ada", 36]]
    assert extract_file(samples.make_xls(tmp_path / "a.xls", rows), "xls")[0].text == "Name: Ada; Age: 36"


def test_csv_with_detected_delimiter_and_encoding(tmp_path):
    path = tmp_path / "a.csv"
    rows = (
        "Nom;Ville;Remarque\nZoë;Genève;Très élégante façade\nAndré;Besançon;Déjà très connu à l'étranger\n"
    )
    path.write_bytes(rows.encode("cp1252"))
    assert extract_file(path, "csv")[0].text == (
        "Nom: Zoë; Ville: Genève; Remarque: Très élégante façade\n"
        "Nom: André; Ville: Besançon; Remarque: Déjà très connu à l'étranger"
    )


@pytest.mark.parametrize("extension", ["txt", "md", "markdown", "mdx", "properties"])
def test_plain_text_formats(tmp_path, extension):
    path = tmp_path / f"a.{extension}"
    path.write_text("# Title\nkey = value\n", encoding="utf-8")
    assert extract_file(path, extension)[0].text == "# Title\nkey = value\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "gb18030", "cp1252"])
def test_text_encoding_is_detected(tmp_path, encoding):
    text = (
        "Le café coûte cher à Genève." if encoding == "cp1252" else "自然语言处理很有趣，我们今天学习检索。"
    )
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode(encoding))
    assert extract_file(path, "txt")[0].text.strip() == text


def test_html_drops_scripts_and_reads_tables(tmp_path):
    path = tmp_path / "a.html"
    path.write_text(
        "<html><head><script>var x = 1;</script><style>p{}</style></head><body><h1>Title</h1><p>Body text</p>"
        "<table><tr><th>Key</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table></body></html>"
    )
    text = extract_file(path, "html")[0].text
    assert "var x" not in text and "Title" in text and "Body text" in text and "Key: a; Value: 1" in text


def test_vtt_keeps_speech_only(tmp_path):
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\n\nNOTE a comment\n\n1\n00:00:01.000 --> 00:00:02.000\n<v Ann>Hello there\n\n"
        "2\n00:00:02.000 --> 00:00:03.000\n<v Ann>how are you\n\n00:03.000 --> 00:04.000\n<v Bob>Fine\n"
    )
    assert extract_file(path, "vtt")[0].text == 'Ann: "Hello there how are you"\nBob: "Fine"'


def test_pptx_slides_tables_and_notes(tmp_path):
    parts = extract_file(samples.make_pptx(tmp_path / "a.pptx"), "pptx")
    assert [part.metadata["slide"] for part in parts] == [1, 2]
    assert "Energy in cells" in parts[0].text and PARAGRAPH in parts[0].text and "ATP." in parts[0].text
    assert "Molecule: ATP; Energy: High" in parts[1].text


def test_eml_headers_and_plain_body(tmp_path):
    text = extract_file(samples.make_eml(tmp_path / "a.eml"), "eml")[0].text
    assert "Subject: Lab meeting" in text and "From: ann@example.org" in text and PARAGRAPH in text
    assert "<b>" not in text


def test_msg_headers_and_body(tmp_path):
    text = extract_file(samples.make_msg(tmp_path / "a.msg"), "msg")[0].text
    assert "Subject: Lab meeting" in text and "Ann <ann@example.org>" in text and PARAGRAPH in text


def test_xml_text_without_entity_expansion(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<r><title>Cells</title><body>Energy &x;</body></r>"
    )
    text = extract_file(path, "xml")[0].text
    assert "Cells" in text and "Energy" in text and "root:" not in text


def test_epub_chapters(tmp_path):
    parts = extract_file(samples.make_epub(tmp_path / "a.epub"), "epub")
    assert any("Chapter one" in part.text and PARAGRAPH in part.text for part in parts)


def test_empty_and_unsupported_files(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("   \n")
    with pytest.raises(ExtractionError, match="No text"):
        extract_file(path, "txt")
    with pytest.raises(ExtractionError, match="not allowed"):
        extract_file(path, "exe")


def test_supported_extension_sets():
    default = supported_extensions()
    assert {"txt", "md", "pdf", "docx", "xlsx", "xls", "csv", "vtt", "properties", "html"} <= default
    assert {"eml", "msg", "pptx", "xml", "epub"} <= default
    assert "ppt" not in supported_extensions("unstructured")
    assert "ppt" in supported_extensions("unstructured", "http://unstructured:8000/general/v0/general")


def test_table_rows_for_qa(tmp_path):
    rows = [["Question", "Answer"], ["What is ATP?", "The energy currency."]]
    assert read_table_rows(samples.make_xlsx(tmp_path / "qa.xlsx", rows), "xlsx") == rows
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhat is ATP?,The energy currency.\n")
    assert read_table_rows(path, "csv") == [["question", "answer"], ["What is ATP?", "The energy currency."]]
    assert read_table_rows(path, "txt") is None


@pytest.mark.parametrize("extension", ["docx", "xlsx", "pptx", "epub"])
def test_archive_formats_refuse_a_member_that_inflates_past_the_limit(tmp_path, extension):
    path = samples.make_zip_bomb(tmp_path / f"bomb.{extension}", extension, 150)
    with pytest.raises(ExtractionError, match=r"The .* file was not read: .* \(a ZIP bomb\?\)"):
        extract_file(path, extension)


def test_declared_sizes_are_not_trusted(tmp_path):
    """The directory says 1 MB; the member inflates to 150 MB: streaming stops it either way."""
    path = samples.make_zip_bomb(tmp_path / "liar.epub", "epub", 150, declared_mb=1)
    with pytest.raises(ExtractionError, match="EPUB"):
        extract_file(path, "epub")


def test_archive_limits_on_members_ratio_and_total(tmp_path):
    small = ArchiveLimits(
        max_expanded_bytes=20 * 2**20, max_member_bytes=15 * 2**20, max_members=3, max_ratio=10**6
    )
    crowded = tmp_path / "crowded.docx"
    with zipfile.ZipFile(crowded, "w") as archive:
        for number in range(4):
            archive.writestr(f"part{number}.xml", "<x/>")
    with pytest.raises(ExtractionError, match="holds 4 files, more than the 3 allowed"):
        check_archive(crowded, "docx", small)
    with pytest.raises(ExtractionError, match="word/document.xml expands past the 15 MB allowed"):
        check_archive(samples.make_zip_bomb(tmp_path / "a.docx", "docx", 16), "docx", small)
    with pytest.raises(ExtractionError, match="expands more than 200 times its compressed size"):
        check_archive(samples.make_zip_bomb(tmp_path / "b.docx", "docx", 12), "docx", ArchiveLimits())
    two = tmp_path / "two.docx"
    with zipfile.ZipFile(two, "w") as archive:  # stored, not compressed: no ratio to judge
        archive.writestr("one.xml", b" " * 12 * 2**20)
        archive.writestr("two.xml", b" " * 12 * 2**20)
    with pytest.raises(ExtractionError, match="it expands past the 20 MB allowed"):
        check_archive(two, "docx", small)


def test_a_real_document_passes_the_archive_bounds(tmp_path):
    check_archive(samples.make_docx(tmp_path / "a.docx"), "docx", ArchiveLimits())
