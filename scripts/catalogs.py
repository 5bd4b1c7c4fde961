"""Keep the pages' message catalogs in step with the templates and code: extract every visible
string, add the new ones to both catalogs and drop those no longer used. English is the
language of the message ids, so a new string's English entry is its id (edit it there when the
English should read differently); its Indonesian entry stays empty until it is translated,
and the test of the catalogs fails meanwhile.

    make messages
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "src" / "antrean" / "adapters" / "web"
TEMPLATE = ROOT / "build" / "messages.pot"


def main() -> None:
    TEMPLATE.parent.mkdir(exist_ok=True)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "pybabel"),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-o",
            str(TEMPLATE),
            "--no-location",
            "--omit-header",
            "--sort-output",
            str(WEB),
        ],
        check=True,
        capture_output=True,
    )
    with TEMPLATE.open("rb") as f:
        template = read_po(f)
    for lang in ("id", "en"):
        path = WEB / "locale" / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if lang == "en":
            for message in catalog:
                if message.id and not message.string or message.string == ("", ""):
                    message.string = message.id
        with path.open("wb") as f:
            write_po(f, catalog, omit_header=False, no_location=True, width=100)
        missing = sum(1 for m in catalog if m.id and not all(_strings(m.string)))
        print(f"{lang}: {len(catalog)} messages, {missing} without translation")


def _strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


if __name__ == "__main__":
    main()
