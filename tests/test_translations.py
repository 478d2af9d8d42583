"""Languages: every template string is marked for translation, every marked string is
translated into Spanish and Portuguese, and the compiled catalogues are current."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "bpt311" / "translations"
LANGUAGES = ("es", "pt")

# Words that are the same in every language: names, and codes people type or read as is.
SAME_IN_EVERY_LANGUAGE = {
    "Bridgeport",
    "Bridgeport 311",
    "311",
    "Open311",
    "GeoReport v2",
    "English",
    "Español",
    "Português",
    "CSV",
    "GeoJSON",
    "JSON",
    "XML",
    "Atom",
    "RSS",
    "API",
    "OpenStreetMap",
    "Leaflet",
    "HTMX",
}
# Text inside these elements is code or data, not interface.
NOT_INTERFACE = {"script", "style", "code", "pre", "kbd", "samp"}
# Attributes a person reads or hears.
READ_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder", "aria-roledescription"}
WORDS = re.compile(r"[^\W\d_]{2,}")
HOLE = "\x00"  # where an expression or tag was


def template_skeleton(env, source: str) -> str:
    """The template's text outside ``{% trans %}`` blocks, with every Jinja construct
    replaced by a hole: what would reach the page untranslated."""
    out, depth, tag_name_next = [], 0, False
    for _, kind, value in env.lex(source):
        if kind == "whitespace":
            continue
        if kind == "block_begin":
            tag_name_next = True
            continue
        if tag_name_next and kind == "name":
            depth += {"trans": 1, "endtrans": -1}.get(value, 0)
        tag_name_next = False
        if kind == "data" and depth == 0:
            out.append(value)
        elif kind in {"variable_end", "block_end"}:
            out.append(HOLE)
    return "".join(out)


class _Unmarked(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in NOT_INTERFACE:
            self.skipping.append(tag)
        values = dict(attrs)
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value, f'{name}="{value}"')
        if tag == "meta" and values.get("name") == "description":
            self._check(values.get("content") or "", "meta description")
        if tag == "input" and values.get("type") in {"submit", "button", "reset"}:
            self._check(values.get("value") or "", f'value="{values.get("value")}"')

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping:
            self._check(data, data.strip())

    def _check(self, text: str, shown: str) -> None:
        for piece in text.split(HOLE):
            piece = " ".join(piece.split())
            if piece and WORDS.search(piece) and piece not in SAME_IN_EVERY_LANGUAGE:
                self.found.append(shown.replace(HOLE, "{…}"))
                return


def unmarked_strings(env, path: Path) -> list[str]:
    skeleton = template_skeleton(env, path.read_text())
    if path.suffix == ".txt":  # plain-text emails: everything outside tags is text
        return [
            line.strip()
            for line in skeleton.replace(HOLE, "\n").splitlines()
            if WORDS.search(line) and line.strip() not in SAME_IN_EVERY_LANGUAGE
        ]
    parser = _Unmarked()
    parser.feed(skeleton)
    parser.close()
    return parser.found


def test_the_checker_finds_an_unmarked_string_and_accepts_marked_ones(app):
    env = app.jinja_env
    plain = TEMPLATES / "_language.html"  # any real template will do for the env
    assert plain.exists()
    found = _Unmarked()
    found.feed(template_skeleton(env, '<p>Report a problem</p><img alt="A pothole" src="x">'))
    assert found.found == ["Report a problem", 'alt="A pothole"']
    marked = _Unmarked()
    marked.feed(
        template_skeleton(
            env,
            "<p>{% trans %}Report a problem{% endtrans %}</p>"
            "<img alt=\"{{ _('A pothole') }}\"> <p>{{ report.tracking_number }}</p>"
            "<p>Bridgeport 311</p><code>GET /open311/v2/services.json</code>",
        )
    )
    assert marked.found == []


def test_every_template_string_is_marked_for_translation(app):
    problems = []
    for path in sorted([*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")]):
        for text in unmarked_strings(app.jinja_env, path):
            problems.append(f"{path.relative_to(ROOT)}: {text[:80]!r}")
    assert problems == [], "mark these with {% trans %}…{% endtrans %} or {{ _('…') }}:\n" + (
        "\n".join(problems)
    )


def _catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _filled(message) -> bool:
    if isinstance(message.string, tuple):
        return all(message.string)
    return bool(message.string)


def marked_in_the_code() -> set[str]:
    """Every string the code marks for translation, as ``pybabel extract`` finds it."""
    method_map = [
        ("bpt311/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
        ("static/js/**.js", "javascript"),
    ]
    options = {"templates/**.html": {"trimmed": "true"}, "templates/**.txt": {"trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    keywords |= {"pgettext": ((1, "c"), 2), "lazy_ngettext": (1, 2)}
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map=options, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_is_translated(language):
    catalogue = _catalogue(language)
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id}
    missing_from_catalogue = sorted(marked_in_the_code() - ids)
    assert missing_from_catalogue == [], "run pybabel extract and update (see the README)"
    untranslated = [m.id for m in catalogue if m.id and (not _filled(m) or m.fuzzy)]
    assert untranslated == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    source = _catalogue(language)
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)
    expected = {_key(m.id): _key(m.string) for m in source if m.id and _filled(m)}
    got = {_key(m.id): _key(m.string) for m in compiled if m.id}
    # An untranslated plural is compiled as its English original: nothing to compare.
    got = {key: value for key, value in got.items() if key in expected or value != key}
    assert got == expected, "run pybabel compile -d bpt311/translations"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    """A translation keeps every %(name)s of its original: a lost one would crash the page."""
    holes = re.compile(r"%\((\w+)\)[sd]")
    wrong = []
    for message in _catalogue(language):
        if not message.id or not _filled(message):
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(holes.findall(originals[-1])) | set(holes.findall(originals[0]))
        for text in strings:
            if not set(holes.findall(text)) <= wanted or (
                len(strings) == 1 and set(holes.findall(text)) != wanted
            ):
                wrong.append((message.id, text))
    assert wrong == []
