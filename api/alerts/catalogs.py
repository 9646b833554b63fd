"""Maintain the alert message catalogs with Babel: extract, update, compile, check.

    python -m api.alerts.catalogs update    # templates.py -> alerts.pot -> merge into each .po
    python -m api.alerts.catalogs compile   # each .po -> .mo
    python -m api.alerts.catalogs check     # exit 1 if a catalog is stale or incomplete

The .mo files are committed next to their .po: an installed package (pip install, no build
hook runs Babel) must speak Kazakh on a server without Babel's command line. The test suite
runs `check`, so a .mo that no longer matches its .po, or a msgid without a kk/ru
translation, fails CI instead of reaching a herder.
"""

from __future__ import annotations

import gettext
import re
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from api.alerts.messages import DOMAIN, LOCALE_DIR
from api.alerts.recipients import LANGUAGES

SOURCE = Path(__file__).resolve().parent / "templates.py"
POT = LOCALE_DIR / f"{DOMAIN}.pot"
MUST_TRANSLATE = ("kk", "ru")  # English is the source language: empty msgstr means msgid.
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """The template catalog from the `N_(...)` strings of templates.py."""
    catalog = Catalog(
        project="Jaylym", domain=DOMAIN, copyright_holder="Jaylym contributors", charset="utf-8"
    )
    for lineno, message, comments, context in extract_from_file(
        "python", str(SOURCE), keywords={"N_": None}
    ):
        catalog.add(
            message,
            locations=[(SOURCE.name, lineno)],
            auto_comments=comments,
            context=context,
            flags=["python-brace-format"],
        )
    return catalog


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def update() -> None:
    """Write the .pot, and merge it into every language's .po (new msgids come in empty)."""
    template = extract()
    POT.parent.mkdir(parents=True, exist_ok=True)
    with POT.open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=False)
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(language)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(
                locale=language,
                domain=DOMAIN,
                project="Jaylym",
                copyright_holder="Jaylym contributors",
                charset="utf-8",
                fuzzy=False,
            )
            catalog.update(template)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, ignore_obsolete=True, sort_output=False)


def compiled(language: str) -> bytes:
    buffer = BytesIO()
    write_mo(buffer, read(language), use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> None:
    for language in LANGUAGES:
        mo_path(language).write_bytes(compiled(language))


def problems() -> list[str]:
    """Every reason the committed catalogs are not fit to ship; empty when they are."""
    found: list[str] = []
    wanted = {message.id for message in extract() if message.id}
    for language in LANGUAGES:
        catalog = read(language)
        have = {message.id: message for message in catalog if message.id}
        for msgid in sorted(wanted - have.keys()):
            found.append(f"{language}: msgid missing from .po (run update): {msgid!r}")
        for msgid in sorted(have.keys() - wanted):
            found.append(f"{language}: .po has a msgid no template uses: {msgid!r}")
        for msgid, message in have.items():
            text = message.string
            assert isinstance(msgid, str)
            if not isinstance(text, str):
                found.append(f"{language}: plural forms are not used here: {msgid!r}")
                continue
            if message.fuzzy:
                found.append(f"{language}: fuzzy translation: {msgid!r}")
            if language in MUST_TRANSLATE and not text:
                found.append(f"{language}: untranslated: {msgid!r}")
            if text and set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(msgid)):
                found.append(f"{language}: placeholders differ from the msgid: {msgid!r}")
        # Babel's own checks, the ones `pybabel compile` reports (printf-style placeholders).
        for message, errors in catalog.check():
            found.extend(f"{language}: {message.id!r}: {error}" for error in errors)
        found.extend(_stale_mo(language, catalog))
    return found


def _stale_mo(language: str, catalog: Catalog) -> list[str]:
    """Compare what the committed .mo says with what the .po says, message by message."""
    path = mo_path(language)
    if not path.exists():
        return [f"{language}: {path.name} missing (run compile)"]
    with path.open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)
    stale = [
        message.id
        for message in catalog
        if message.id and message.string and shipped.gettext(str(message.id)) != message.string
    ]
    return [f"{language}: .mo is stale for {msgid!r} (run compile)" for msgid in stale]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        issues = problems()
        for line in issues:
            print(line, file=sys.stderr)
        return 1 if issues else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
