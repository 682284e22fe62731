"""Real sample files of every supported type, written by the libraries made for each format."""

import email.message
import zipfile
from pathlib import Path

from tests.outlook_msg import outlook_message

PARAGRAPH = "Photosynthesis converts light energy into chemical energy stored in glucose."


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


def make_report_pdf(
    path: Path, sections: list[tuple[str, str]], header: str, pages_per_section: int = 1
) -> Path:
    """A report as word processors make them: a running header and a "Page n of N" footer on every
    page, and each section a numbered heading set larger than its body text."""
    from fpdf import FPDF

    class Report(FPDF):
        def header(self):
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}")

    pdf = Report()
    for title, body in sections:
        for _ in range(pages_per_section):
            pdf.add_page()
            pdf.set_font("Helvetica", style="B", size=16)
            pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_statement_pdf(path: Path, caption: str, rows: list[tuple[str, str, str]]) -> Path:
    """A financial statement as filings set it: a caption, a header over two lines ("Three Months
    Ended" above each column's date), a label column and right-aligned figures; no ruling lines."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "The statements below are unaudited.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.multi_cell(0, 8, caption, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    header = [("", "Three Months Ended", "Three Months Ended"), ("", "July 1, 2023", "June 25, 2022")]
    for line in [*header, *rows]:
        y = pdf.get_y()
        for text, x, width, align in zip(line, (10, 110, 155), (90, 40, 40), ("L", "R", "R"), strict=True):
            pdf.set_xy(x, y)
            pdf.cell(width, 5, text, align=align)
        pdf.set_y(y + 5)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, pages: list[str]) -> Path:
    """An image-only PDF, as a scanner makes it: a text PDF rendered to pictures, without its text layer."""
    import pypdfium2 as pdfium

    text_pdf = make_pdf(path.with_suffix(".text.pdf"), pages)
    document = pdfium.PdfDocument(str(text_pdf))
    images = [
        document[index].render(scale=150 / 72).to_pil().convert("RGB") for index in range(len(document))
    ]
    document.close()
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return path


def make_text_image(path: Path, text: str) -> Path:
    """A picture of text (PNG, JPEG, ... by the suffix), as a photographed or screenshotted page."""
    import pypdfium2 as pdfium

    text_pdf = make_pdf(path.with_suffix(".text.pdf"), [text])
    document = pdfium.PdfDocument(str(text_pdf))
    image = document[0].render(scale=150 / 72).to_pil().convert("RGB")
    document.close()
    image.crop((0, 0, image.width, image.height // 3)).save(path)
    return path


def make_pdf_over_array_limit(path: Path, text: str, elements: int = 300_000) -> Path:
    """A valid one-page PDF with an array of `elements` numbers (as some generators write long
    /Widths or structure arrays), past what pypdf reads by default."""
    stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Spare [" + b"0 " * elements + b"] >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    path.write_bytes(pdf_of_objects(objects))
    return path


def pdf_of_objects(objects: list[bytes]) -> bytes:
    """A PDF of the given objects (1 0 R the catalog), with a correct cross-reference table."""
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return body + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def make_encrypted_pdf(path: Path, text: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_suffix(".plain.pdf"), [text])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Cell biology", level=1)
    document.add_paragraph(PARAGRAPH)
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(
        table.rows,
        [("Organelle", "Role"), ("Chloroplast", "Photosynthesis"), ("Mitochondrion", "Respiration")],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.save(str(path))
    return path


def make_xlsx(path: Path, rows: list[list[object]], sheet: str = "Sheet1") -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    workbook.save(str(path))
    return path


def make_xls(path: Path, rows: list[list[object]]) -> Path:
    import xlwt

    workbook = xlwt.Workbook()
    worksheet = workbook.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            worksheet.write(r, c, value)
    workbook.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Energy in cells"
    slide.placeholders[1].text = PARAGRAPH
    slide.notes_slide.notes_text_frame.text = "Speaker note about ATP."
    table_slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    table = table_slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for (r, c), value in zip(
        [(0, 0), (0, 1), (1, 0), (1, 1)], ["Molecule", "Energy", "ATP", "High"], strict=True
    ):
        table.cell(r, c).text = value
    presentation.save(str(path))
    return path


def make_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sample-book")
    book.set_title("Sample book")
    book.set_language("en")
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml", lang="en")
    chapter.content = f"<html><body><h1>Chapter one</h1><p>{PARAGRAPH}</p></body></html>"
    book.add_item(chapter)
    book.toc = [chapter]
    book.spine = ["nav", chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def make_eml(path: Path) -> Path:
    message = email.message.EmailMessage()
    message["Subject"] = "Lab meeting"
    message["From"] = "ann@example.org"
    message["To"] = "team@example.org"
    message.set_content(PARAGRAPH)
    message.add_alternative(f"<p><b>{PARAGRAPH}</b></p>", subtype="html")
    path.write_bytes(message.as_bytes())
    return path


def make_msg(path: Path) -> Path:
    path.write_bytes(outlook_message("Lab meeting", "Ann <ann@example.org>", "Team", PARAGRAPH))
    return path


# The member of each archive-based format that holds the text.
TEXT_MEMBERS = {
    "docx": "word/document.xml",
    "xlsx": "xl/worksheets/sheet1.xml",
    "pptx": "ppt/slides/slide1.xml",
    "epub": "EPUB/chapter1.xhtml",
}


def make_zip_bomb_docx(path: Path, uncompressed_mb: int = 200) -> Path:
    """A DOCX-shaped ZIP whose one entry expands to hundreds of megabytes."""
    return make_zip_bomb(path, "docx", uncompressed_mb)


def make_zip_bomb(path: Path, extension: str, uncompressed_mb: int, declared_mb: int | None = None) -> Path:
    """A ZIP shaped as `extension` whose text member inflates to `uncompressed_mb` of spaces. With
    `declared_mb` the archive's directory lies about that member's size."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(TEXT_MEMBERS[extension], "w") as entry:
            block = b" " * (1024 * 1024)
            for _ in range(uncompressed_mb):
                entry.write(block)
    if declared_mb is not None:
        _rewrite_declared_size(path, TEXT_MEMBERS[extension], declared_mb * 2**20)
    return path


def _rewrite_declared_size(path: Path, member: str, size: int) -> None:
    """Rewrites the member's uncompressed size in its central-directory entry, which readers trust."""
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    while start != -1:
        name_length = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + name_length] == member.encode():
            data[start + 24 : start + 28] = size.to_bytes(4, "little")
        start = data.find(b"PK\x01\x02", start + 1)
    path.write_bytes(bytes(data))
