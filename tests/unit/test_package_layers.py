"""The house's rule, checked on the source: packages import only packages below them, and nothing in the product
imports the quality lab or the benchmarks (README, Layout)."""

import ast
from pathlib import Path

from support import ROOT

PACKAGE = ROOT / "include" / "tweet_sentiment"
# bottom first: a module may import its own package and the ones before it
LAYERS = ("schema", "text", "storage", "config", "model", "intake", "label_check", "labelling", "monitoring",
          "pages", "pipeline", "__main__")


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _product_modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")
            if p.name != "__init__.py" or p.parent != PACKAGE}


def test_every_package_imports_only_packages_below_it():
    upward = []
    for module, path in _product_modules().items():
        own = _layer(module)
        for name in _imports(path):
            if name.startswith("tweet_sentiment."):
                target = name.removeprefix("tweet_sentiment.")
                if target.split(".")[0] in LAYERS and _layer(target) > own:
                    upward.append(f"{module} imports {target}")
    assert not upward, upward


def test_the_product_never_imports_the_lab_or_the_benchmarks():
    leaks = [f"{module} imports {name}" for module, path in _product_modules().items() for name in _imports(path)
             if name.split(".")[0] in ("lab", "benchmarks")]
    assert not leaks, leaks


def test_every_package_says_what_lives_there():
    for init in PACKAGE.rglob("__init__.py"):
        assert (ast.get_docstring(ast.parse(init.read_text())) or "").strip(), f"{init} has no docstring"
