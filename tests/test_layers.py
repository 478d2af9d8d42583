"""The layer rule import-linter cannot see: no package takes another package's private names.

A name that starts with an underscore is its module's own business; a package that needs it
from elsewhere should get a public function instead (the contracts in pyproject.toml, run by
`.ci/run`, hold the other layer rules: models below features, pages private to their
package, no import cycle between packages); a test here also finds any cycle between
single modules, which the package-level contract does not look at."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

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


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or through others
    (Tarjan's strongly connected components, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports.get(child, ())))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_module_of_bpt311_imports_itself_through_others():
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("bpt311")  # imports inside functions included
    finally:
        sys.path.remove(str(ROOT))
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert import_cycles(imports) == []


def test_the_cycle_check_sees_a_cycle_through_a_third_module():
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(imports) == [["a", "b", "c"]]
