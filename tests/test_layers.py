"""The layer rule import-linter cannot see: no package takes another package's private names.

A name that starts with an underscore is its module's own business; a package that needs it
from elsewhere should get a public function instead (the contracts in pyproject.toml, run by
`.ci/run`, hold the other layer rules: models below features, pages private to their
package, no new import cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bpt311"


def _package_of(module: str) -> str:
    """bpt311.staff.views -> bpt311.staff; bpt311.notify -> bpt311.notify."""
    return ".".join(module.split(".")[:2])


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports_across_packages(source: str, importer: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("bpt311"):
            continue
        if node.level or _package_of(node.module) == _package_of(importer):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{importer}:{node.lineno} takes {node.module}.{alias.name}")
    return found


def test_no_package_imports_another_packages_private_names():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += private_imports_across_packages(path.read_text(), _module_name(path))
    assert found == []


def test_the_check_sees_a_private_import_from_another_package():
    source = "from bpt311.notify import _claim, due_ids\nfrom bpt311.pwa.share import _ok\n"
    assert private_imports_across_packages(source, "bpt311.pwa.push") == [
        "bpt311.pwa.push:1 takes bpt311.notify._claim"
    ]
