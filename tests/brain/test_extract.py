"""Source files as text (Markdown, code, HTML, PDF), or skipped with the reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

from agent.brain.extract import Extracted, Skipped, extract

LIMIT = 1_000_000


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (offsets computed, so the cross-reference is exact)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_text_markdown_and_code_with_the_hash_of_their_bytes(tmp_path: Path) -> None:
    for name, kind in (("notes.txt", "text"), ("guide.md", "markdown"), ("tool.py", "code")):
        path = tmp_path / name
        data = f"héllo from {name}\n".encode()
        path.write_bytes(data)
        got = extract(path, LIMIT)
        assert isinstance(got, Extracted), got
        assert (got.text, got.kind, got.size) == (data.decode(), kind, len(data))
        assert got.content_hash == hashlib.sha256(data).hexdigest()


def test_html_is_its_text_without_scripts(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><style>p{}</style><script>alert(1)</script></head>"
        "<body><h1>Title</h1><p>First <b>bold</b> part.</p><p>Second.</p></body></html>"
    )
    got = extract(page, LIMIT)
    assert isinstance(got, Extracted)
    assert "alert" not in got.text
    assert "p{}" not in got.text
    assert "Title" in got.text
    assert "bold" in got.text
    assert "Second." in got.text


def test_pdf_text_through_pypdf(tmp_path: Path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(minimal_pdf("Fabric brain indexes PDF files"))
    got = extract(pdf, LIMIT)
    assert isinstance(got, Extracted), got
    assert "Fabric brain indexes PDF files" in got.text
    assert got.content_hash == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_skipped_files_say_why(tmp_path: Path) -> None:
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"abc\0def")
    big = tmp_path / "big.md"
    big.write_text("x" * 2000)
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8\xff")
    latin = tmp_path / "old.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    missing = tmp_path / "gone.md"
    cases = {
        binary: "binary",
        big: "too_large",
        image: "unsupported",
        latin: "unreadable",
        broken: "unreadable",
        missing: "unreadable",
    }
    for path, reason in cases.items():
        got = extract(path, 1000)
        assert isinstance(got, Skipped), (path, got)
        assert got.reason == reason, (path, got)
        assert got.detail
