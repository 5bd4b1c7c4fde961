"""QR codes as inline SVG: drawn on the server, scale with the page, no image to download."""

from __future__ import annotations

import segno


def qr_svg(text: str, label: str) -> str:
    svg: str = segno.make_qr(text, error="m").svg_inline(scale=1, omitsize=True, title=label)
    return svg.replace("<svg ", '<svg role="img" aria-label="QR" ', 1)
