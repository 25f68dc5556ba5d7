"""render_report.py — dev-time only: renders an audit's report.html to a PNG picture for the README
(docs/audit-report.png), so readers see the report without opening it. gradmap never needs this.

Needs a Python with WeasyPrint (HTML/CSS to PDF, no browser) and pypdfium2 (PDF to pixels):
    python3 -m venv /work/venv-doc && /work/venv-doc/bin/pip install weasyprint pypdfium2
    /work/venv-doc/bin/python scripts/render_report.py build/demo-audit/report.html docs/audit-report.png
Pages are stacked vertically; --pages N keeps the first N (default 2).
"""
import argparse

import pypdfium2
import weasyprint
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html")
    ap.add_argument("png")
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--width", type=int, default=1100, help="page width in CSS pixels")
    a = ap.parse_args()
    page_css = weasyprint.CSS(string=f"@page {{ size: {a.width}px 1500px; margin: 12px }}")
    pdf = weasyprint.HTML(filename=a.html).write_pdf(stylesheets=[page_css])
    doc = pypdfium2.PdfDocument(pdf)
    pages = [doc[i].render(scale=1.0).to_pil().convert("RGB") for i in range(min(a.pages, len(doc)))]
    out = Image.new("RGB", (max(p.width for p in pages), sum(p.height for p in pages)), "white")
    y = 0
    for p in pages:
        out.paste(p, (0, y))
        y += p.height
    out.save(a.png, optimize=True)
    print(f"{a.png}: {out.width}x{out.height}, {len(pages)} of {len(doc)} pages")


if __name__ == "__main__":
    main()
