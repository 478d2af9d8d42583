"""A strict Content-Security-Policy: the header forbids inline script and style, and
nothing in templates/ or static/ needs them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.factories import make_report

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


PAGES = ["/", "/reports", "/map", "/reports/new", "/sign-in", "/register", "/reports/BPT-000001"]


@pytest.mark.parametrize("path", PAGES)
def test_the_policy_forbids_inline_and_eval_on_every_page(client, city, path):
    make_report()
    header = client.get(path).headers["Content-Security-Policy"]
    policy = directives(header)
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header
    assert "'unsafe-hashes'" not in header and "'strict-dynamic'" not in header
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "*" not in policy["img-src"] and "data:" in policy["img-src"]
    assert "frame-ancestors" in policy


def test_error_pages_carry_the_policy_too(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


class InlineFinder(HTMLParser):
    """Finds inline script bodies, style elements and attributes, and on* handlers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value for name, value in attrs}
        data_only = (names.get("type") or "").lower() in ("application/json", "application/ld+json")
        if tag == "script" and "src" not in names and not data_only:
            self._in_inline_script = True
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in names.items():
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name.startswith("on") and not name.startswith("{"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}= on <{tag}>")
            if name.startswith("hx-on"):
                self.problems.append(f"{name}= (inline handler, needs eval) on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.problems.append("inline <script> body")


# Jinja statements and expressions would confuse the HTML parser; blank them out first.
JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)


def template_problems(path: Path) -> list[str]:
    finder = InlineFinder()
    finder.feed(JINJA.sub(" ", path.read_text()))
    return [f"{path.relative_to(TEMPLATES)}: {problem}" for problem in finder.problems]


def browser_templates() -> list[Path]:
    return [p for p in sorted(TEMPLATES.rglob("*.html")) if "emails" not in p.parts]


def test_templates_have_no_inline_script_style_or_handlers():
    problems = [problem for path in browser_templates() for problem in template_problems(path)]
    assert problems == []


def test_the_scanner_catches_what_it_looks_for(tmp_path):
    """The scan above can fail: it finds each kind of inline code in a sample."""
    sample = TEMPLATES / "_csp_sample_for_test.html"
    body = (
        '<div style="color:red" onclick="x()"><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><style>p{}</style>'
        '<button hx-on:click="x">b</button><script src="/s.js"></script></div>'
    )
    sample.write_text(body)
    try:
        found = template_problems(sample)
    finally:
        sample.unlink()
    assert len(found) == 6, found


def test_rendered_pages_have_no_inline_code(client, city):
    """The templates as rendered, with real data: macros cannot sneak inline code in."""
    make_report(description="A pothole <b onmouseover=alert(1)>here</b>")
    finder = InlineFinder()
    for path in PAGES + ["/neighbourhoods", "/developers", "/embed/recent"]:
        finder.feed(client.get(path).get_data(as_text=True))
    assert finder.problems == []


def test_static_javascript_does_not_eval():
    """Our own scripts run under script-src 'self' without 'unsafe-eval'."""
    offenders = []
    for path in (ROOT / "static" / "js").rglob("*.js"):
        text = path.read_text()
        if re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]", text):
            offenders.append(path.name)
    assert offenders == []
