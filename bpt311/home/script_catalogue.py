"""The translations the scripts in static/js need, served as one small script per language.

The scripts mark their words with ``_("...")`` and ``ngettext("...", "...", n)`` (site.js
defines both, as ``window.bpt311._`` and ``window.bpt311.ngettext``). Which words those are
is read from the scripts with babel's javascript extractor, once; the Spanish or Portuguese
for them comes from the same compiled catalogue as the pages'. The script's URL carries a
hash of its content, so browsers may keep it for a year and fetch it again only after a
translation changed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from babel.messages.extract import extract_from_file
from flask import current_app
from flask_babel import get_translations

from bpt311.i18n import DEFAULT, LANGUAGES, force_locale

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}

Msgid = str | tuple[str, str]


@dataclass(frozen=True)
class ScriptCatalogue:
    language: str
    body: bytes  # window.bpt311Messages = {...};
    version: str  # a hash of the body, for the URL


_lock = threading.Lock()
_msgids: dict[str, tuple[float, list[Msgid]]] = {}
_built: dict[tuple[str, str], tuple[tuple, ScriptCatalogue]] = {}


def _scripts_folder() -> Path:
    return Path(current_app.static_folder) / "js"


def _stamp(paths) -> tuple:
    """What changes when a file changes: used to rebuild after an edit in development."""
    stamps = []
    for path in paths:
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            stamps.append((str(path), 0))
    return tuple(stamps)


def script_msgids(folder: Path) -> list[Msgid]:
    """Every message the scripts under ``folder`` mark, as ``pybabel extract`` finds them
    (a plural as its (singular, plural) pair), in a stable order."""
    found: dict[Msgid, None] = {}
    for path in sorted(folder.rglob("*.js")):
        for _line, message, _comments, _context in extract_from_file(
            "javascript", path, keywords=KEYWORDS
        ):
            if isinstance(message, tuple | list):
                found[(message[0], message[1])] = None
            elif message:
                found[message] = None
    return list(found)


def _catalogue_files(language: str) -> list[Path]:
    folders = current_app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")
    return [
        Path(current_app.root_path, folder, language, "LC_MESSAGES", "messages.mo")
        for folder in folders.split(";")
    ]


def _build(language: str, msgids: list[Msgid]) -> ScriptCatalogue:
    with force_locale(language):
        translations = get_translations()
    messages: dict[str, str | list[str]] = {}
    for msgid in msgids:
        if isinstance(msgid, tuple):
            singular, plural = msgid
            # ngettext with 1 and 2 picks the two forms for Spanish ("n != 1") and
            # Portuguese ("n > 1") alike.
            forms = [translations.ngettext(singular, plural, n) for n in (1, 2)]
            if forms != [singular, plural]:
                messages[singular] = forms
        else:
            text = translations.gettext(msgid)
            if text != msgid:
                messages[msgid] = text
    payload = json.dumps(
        {"lang": language, "messages": messages},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    body = f"window.bpt311Messages={payload};\n".encode()
    version = hashlib.blake2b(body, digest_size=5).hexdigest()
    return ScriptCatalogue(language=language, body=body, version=version)


def script_catalogue(language: str) -> ScriptCatalogue | None:
    """The script for ``language`` (None for English, which needs none, or an unknown code).
    Built at first use and again only when a catalogue or a script changed."""
    if language not in LANGUAGES or language == DEFAULT:
        return None
    folder = _scripts_folder()
    # Scripts change only with a release, except while developing.
    scripts = _stamp(sorted(folder.rglob("*.js"))) if current_app.debug else ()
    catalogues = _stamp(_catalogue_files(language))
    with _lock:
        known = _msgids.get(str(folder))
        if known is None or known[0] != scripts:
            known = (scripts, script_msgids(folder))
            _msgids[str(folder)] = known
        key = (str(folder), language)
        built = _built.get(key)
        if built is None or built[0] != (scripts, catalogues):
            built = ((scripts, catalogues), _build(language, known[1]))
            _built[key] = built
    return built[1]
