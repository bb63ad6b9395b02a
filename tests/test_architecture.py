"""The layout ARCHITECTURE.md promises: no import circle among annotate's modules, and a map that
names every package and module.

Both read the package that is imported (``annotate.__file__``) and the ARCHITECTURE.md beside it,
so they check whichever checkout is first on the path.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import annotate

PACKAGE = Path(annotate.__file__).resolve().parent
DOC = PACKAGE.parent / "ARCHITECTURE.md"


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    """Return every module of the package under ``root`` by dotted name (a package by its own)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _ancestors(name: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b"]``."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the annotate modules that importing ``name`` runs: every import statement anywhere
    in the file (module level, functions, ``TYPE_CHECKING`` blocks), relative ones resolved.

    ``from p import x`` is an import of ``p.x`` when that is a module, else of ``p``. Importing
    a module runs its parent packages too, except those the importer is already inside.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.add(sub if sub in modules else source)
    found: set[str] = set()
    own = set(_ancestors(name))
    for target in targets:
        if target not in modules:
            continue
        found.update(m for m in [*_ancestors(target), target] if m in modules and m not in own)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import circle as a path (its first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_reports_the_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_are_resolved_relative_nested_and_through_parent_packages(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n", encoding="utf-8")
    (pkg / "sub" / "b.py").write_text("from . import c\nfrom .c import C\n", encoding="utf-8")
    (pkg / "sub" / "c.py").write_text("C = 1\n", encoding="utf-8")
    (pkg / "d.py").write_text("def f():\n    from pkg.sub import c\n", encoding="utf-8")
    modules = module_names(pkg)
    assert set(modules) == {"pkg", "pkg.sub", "pkg.sub.b", "pkg.sub.c", "pkg.d"}
    assert imports_of("pkg.sub.b", modules["pkg.sub.b"], modules) == {"pkg.sub.c"}
    assert imports_of("pkg.sub", modules["pkg.sub"], modules) == {"pkg.sub.b"}
    # A function-level import, and the parent package it runs first.
    assert imports_of("pkg.d", modules["pkg.d"], modules) == {"pkg.sub", "pkg.sub.c"}


def test_no_import_circle_among_annotate_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def reachable(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    """Return the modules that importing any of ``start`` runs, transitively."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_recipe_does_not_depend_on_the_rule_engine() -> None:
    graph = import_graph()
    recipe = {m for m in graph if m == "annotate.recipe" or m.startswith("annotate.recipe.")}
    engine = sorted(m for m in reachable(graph, recipe) if m.startswith("annotate.nlp"))
    assert not engine, f"annotate.recipe imports {', '.join(engine)}"


# --- ARCHITECTURE.md names every package and module --------------------------------------------

# A package's paragraph starts with its folder in backticks and a colon: "`records/`: ...".
PACKAGE_HEADING = re.compile(r"^`([a-z_]+)/`:", re.MULTILINE)
NAMED = re.compile(r"`([A-Za-z_./]+)`")


def doc_sections(text: str) -> dict[str, set[str]]:
    """Return, for the "Packages and modules" section, the names in backticks under each
    package's paragraph ("" for the modules at the top of ``annotate/``)."""
    section = text.split("## Packages and modules", 1)[1].split("\n## ", 1)[0]
    sections: dict[str, set[str]] = {}
    starts = [(m.start(), m.group(1)) for m in PACKAGE_HEADING.finditer(section)]
    bounds = [(0, "")] + starts + [(len(section), None)]
    for (start, name), (end, _) in zip(bounds, bounds[1:], strict=False):
        if name is not None:
            sections.setdefault(name, set()).update(NAMED.findall(section[start:end]))
    return sections


def _is_named(stem: str, names: set[str], package: str) -> bool:
    # The doc writes a module as `name.py`, or as its bare name in a list (`cli/`'s verbs),
    # or by its path from annotate/ (`annotate/__init__.py`, `nlp/preannotate.py`).
    rel = f"{package}/{stem}.py" if package else f"{stem}.py"
    return bool({f"{stem}.py", stem, rel, f"annotate/{rel}"} & names)


def undocumented(root: Path, text: str) -> list[str]:
    """Return the packages and modules of ``root`` (relative paths) the doc does not name."""
    sections = doc_sections(text)
    missing = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        package = rel.parent.as_posix() if rel.parent != Path(".") else ""
        if path.name == "__init__.py" and package:
            if package not in sections:
                missing.append(f"{package}/")
        elif not _is_named(path.stem, sections.get(package, set()), package):
            missing.append(rel.as_posix())
    return missing


def unknown_in_doc(root: Path, text: str) -> list[str]:
    """Return the `name.py` files the doc places in a package that holds no such module."""
    out = []
    for package, names in doc_sections(text).items():
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            rel = name.removeprefix("annotate/")
            if "/" not in rel:
                rel = f"{package}/{rel}" if package else rel
            if not (root / rel).is_file():
                out.append(rel)
    return out


def test_the_doc_check_finds_a_missing_and_a_stale_module(tmp_path: Path) -> None:
    (tmp_path / "nlp").mkdir()
    for rel in ("__init__.py", "run.py", "nlp/__init__.py", "nlp/rules.py", "nlp/inputs.py"):
        (tmp_path / rel).write_text("", encoding="utf-8")
    text = (
        "## Packages and modules\n\n- `annotate/__init__.py`: the version.\n- `run.py`: the job.\n\n"
        "`nlp/`: pre-annotation.\n- `inputs.py`: documents.\n- `gone.py`: moved away.\n\n## Next\n"
        "- `rules.py` named outside the section does not count.\n"
    )
    assert undocumented(tmp_path, text) == ["nlp/rules.py"]
    assert unknown_in_doc(tmp_path, text) == ["nlp/gone.py"]


def test_architecture_md_names_every_package_and_module() -> None:
    if not DOC.is_file():
        pytest.fail(f"no {DOC.name} beside the package")
    missing = undocumented(PACKAGE, DOC.read_text(encoding="utf-8"))
    assert not missing, f"{DOC.name} does not name: {', '.join(missing)}"


def test_architecture_md_names_no_module_that_does_not_exist() -> None:
    stale = unknown_in_doc(PACKAGE, DOC.read_text(encoding="utf-8"))
    assert not stale, f"{DOC.name} names modules that do not exist: {', '.join(stale)}"
