"""The apps depend on each other in one direction only:

    config <- accounts <- resellers <- products <- purchases

An app imports only itself and apps to its left. Two places compose the
whole project and may import any app: the root URLconf and the seed (which
writes every app's tables). Tests are not checked: a test may set up data of
any app.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ORDER = ["config", "accounts", "resellers", "products", "purchases"]
COMPOSITION_ROOTS = ("config.urls", "config.seeding", "config.management")
ROOT = Path(settings.BASE_DIR)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files():
    for app in ORDER:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            yield path


def _package(path: Path) -> str:
    """The package relative imports in this file start from."""
    module = _module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported_modules(tree: ast.AST, package: str):
    """Every module an import statement names (relative ones resolved from
    ``package``), function-level imports included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name


def _is_composition_root(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in COMPOSITION_ROOTS)


def layering_violations() -> list[str]:
    violations = []
    for path in _source_files():
        module = _module_name(path)
        if _is_composition_root(module):
            continue
        rank = ORDER.index(module.split(".")[0])
        tree = ast.parse(path.read_text(), filename=str(path))
        for lineno, imported in _imported_modules(tree, _package(path)):
            target = imported.split(".")[0]
            if target in ORDER and ORDER.index(target) > rank:
                violations.append(f"{path.relative_to(ROOT)}:{lineno} imports {imported}")
    return violations


def test_apps_import_only_apps_to_their_left():
    assert layering_violations() == []


def test_the_check_sees_every_app():
    checked = {_module_name(path).split(".")[0] for path in _source_files()}
    assert checked == set(ORDER)


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("accounts", "from resellers.models import Reseller", ["resellers.models"]),
        ("resellers", "def f():\n    import purchases.selectors", ["purchases.selectors"]),
        ("purchases.analytics", "from ..selectors import x", ["purchases.selectors"]),
        ("purchases.analytics", "from . import views", ["purchases.analytics"]),
        ("products", "from .models import Product", ["products.models"]),
    ],
)
def test_imports_are_found_wherever_they_are_written(package, source, expected):
    found = [name for _, name in _imported_modules(ast.parse(source), package)]
    assert found == expected
