"""Folders are layers: a folder imports only folders below it, and docs/architecture.md maps them.

The folder graph is built as the layout check (``layout.py``) builds it: every
``import`` of every module under ``pytest_loadbudget/``, those inside
functions and under ``if TYPE_CHECKING:`` included, each module at the
package's root a folder of its own. An import that runs back up the layers
means a definition lives in the wrong module: the failure names the imports
of each cycle, so that the definition can be moved where it belongs.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_loadbudget"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


# --- the folder graph


def modules_of(package: Path) -> dict[str, Path]:
    """Every module under ``package`` by dotted name; a package is named without ``.__init__``."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        dotted = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        modules[dotted.removesuffix(".__init__")] = path
    return modules


def imported(name: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The modules of the package that one import statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        # ``from package import module`` names the module too.
        targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [target for target in targets if target in modules]


def folder_of(module: str) -> str:
    """``pkg.budget.marker`` -> ``pkg.budget``; a root module (``pkg.settings``) is its own folder."""
    return ".".join(module.split(".")[:2])


@dataclass(frozen=True)
class Edge:
    """One folder importing another, with the module imports behind it."""

    source: str
    target: str
    imports: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        behind = "; ".join(f"{module} imports {target}" for module, target in self.imports)
        return f"{_short(self.source)} -> {_short(self.target)} ({behind})"


def _short(name: str) -> str:
    return name.split(".", 1)[1] if "." in name else name


def folder_graph(package: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """folder -> the folders it imports -> the (module, imported module) pairs behind each edge.

    Every import counts, wherever it is written. Imports of the package itself
    (its ``__init__``) are left out, as the layout check leaves them out: the
    package's root re-exports, it is no layer of its own to import from.
    """
    modules = modules_of(package)
    top = package.name
    graph: dict[str, dict[str, list[tuple[str, str]]]] = {folder_of(name): defaultdict(list) for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in imported(name, path, node, modules):
                if target == name or name.startswith(f"{target}.") or target == top:
                    continue
                source_folder, target_folder = folder_of(name), folder_of(target)
                if source_folder != target_folder and (name, target) not in graph[source_folder][target_folder]:
                    graph[source_folder][target_folder].append((name, target))
    return graph


def cycles(graph: dict[str, dict[str, list[tuple[str, str]]]]) -> list[list[Edge]]:
    """The folders that import one another, directly or not: the edges inside each such group."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(folder: str) -> None:  # Tarjan's strongly connected components
        index[folder] = low[folder] = len(index)
        stack.append(folder)
        on_stack.add(folder)
        for target in graph.get(folder, {}):
            if target not in index:
                visit(target)
                low[folder] = min(low[folder], low[target])
            elif target in on_stack:
                low[folder] = min(low[folder], index[target])
        if low[folder] == index[folder]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == folder:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for folder in sorted(graph):
        if folder not in index:
            visit(folder)
    return [
        [Edge(source, target, tuple(graph[source][target]))
         for source in group for target in sorted(graph[source]) if target in group]
        for group in groups
    ]


def cycle_report(found: list[list[Edge]]) -> str:
    return "\n".join(
        f"folders that import one another: {', '.join(sorted({_short(edge.source) for edge in group}))}\n"
        + "\n".join(f"  {edge}" for edge in group)
        for group in found
    )


def test_no_folder_imports_a_folder_above_it() -> None:
    found = cycles(folder_graph(PACKAGE))
    assert not found, "an import runs back up the layers: move the definition down\n" + cycle_report(found)


def make_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return package


def test_an_import_inside_a_function_or_for_type_checking_makes_a_cycle(tmp_path: Path) -> None:
    package = make_package(tmp_path, {
        "__init__.py": "from pkg.low.data import Record\n",
        "low/__init__.py": "",
        "low/data.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from pkg.high.use import Use
            Record = dict
        """,
        "high/__init__.py": "",
        "high/use.py": """
            def use():
                from ..low import data
                return data.Record
        """,
        "settings.py": "import pkg.high.use\n",
    })

    found = cycles(folder_graph(package))

    assert [[str(edge) for edge in group] for group in found] == [[
        "high -> low (pkg.high.use imports pkg.low; pkg.high.use imports pkg.low.data)",
        "low -> high (pkg.low.data imports pkg.high.use)",
    ]]
    assert "folders that import one another: high, low" in cycle_report(found)


def test_layers_that_import_downward_only_make_no_cycle(tmp_path: Path) -> None:
    package = make_package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/data.py": "import pkg\nRecord = dict\n",
        "high/__init__.py": "",
        "high/use.py": "from pkg.low.data import Record\n",
        "settings.py": "from pkg import high\n",
    })

    graph = folder_graph(package)

    assert cycles(graph) == []
    assert {folder: sorted(targets) for folder, targets in graph.items() if targets} == {
        "pkg.high": ["pkg.low"], "pkg.settings": ["pkg.high"],
    }


# --- the module map of docs/architecture.md


_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    """One row of the module map: the folders or root modules it is about, and the modules it names."""

    layers: tuple[str, ...]
    text: str

    def named(self) -> list[str]:
        return _CODE.findall(self.text)


def module_map() -> list[Row]:
    """The rows of the table under "The module map", top layer first."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## The module map", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 2:
            continue
        rows.append(Row(tuple(_CODE.findall(cells[0])), cells[1]))
    return rows


def layer_of(where: str) -> str:
    """``budget/`` and ``settings.py`` as the folder graph names them; the root's ``__init__.py`` is the package."""
    if where == "__init__.py":
        return PACKAGE.name
    return f"{PACKAGE.name}.{where.removesuffix('/').removesuffix('.py')}"


def only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return len(body) <= 1 and all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def test_the_module_map_names_every_module() -> None:
    named: set[Path] = set()
    for row in module_map():
        for where in row.layers:
            if where.endswith("/"):
                folder = PACKAGE / where
                named |= {folder / module for module in row.named() if module.endswith(".py") and "/" not in module}
                named |= {init for init in [folder / "__init__.py"] if init.exists() and only_a_docstring(init)}
            else:
                named.add(PACKAGE / where)
    unnamed = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py")) if path not in named]
    assert unnamed == [], f"modules docs/architecture.md does not name in its module map: {unnamed}"


def test_every_module_the_architecture_page_names_exists() -> None:
    missing = []
    for row in module_map():
        for where in row.layers:
            if not (PACKAGE / where).exists():
                missing.append(where)
            if where.endswith("/"):
                missing += [f"{where}{module}" for module in row.named()
                            if re.fullmatch(r"[\w/]+\.py", module) and "/" not in module
                            and not (PACKAGE / where / module).exists()]
    # Anywhere on the page, a path (`session/fixture.py`, `results/record.ModelRecord`) names a
    # module of the package, or a file of the repository (`benchmarks/contention.py`).
    for path in _CODE.findall(ARCHITECTURE.read_text(encoding="utf-8")):
        match = re.fullmatch(r"([\w]+(?:/[\w]+)+)\.(\w+)", path)
        if match is None:
            continue
        module = f"{match[1]}.py" if match[2] != "py" else path
        if not ((PACKAGE / module).exists() or (ROOT / module).exists()):
            missing.append(path)
    assert missing == [], f"docs/architecture.md names what is not there: {missing}"


def test_the_module_map_lists_the_layers_top_down() -> None:
    rows = module_map()
    place = {layer_of(where): number for number, row in enumerate(rows) for where in row.layers}
    graph = folder_graph(PACKAGE)
    unplaced = sorted(_short(folder) for folder in graph if folder not in place)
    assert unplaced == [], f"layers without a row in the module map: {unplaced}"
    upward = [str(Edge(source, target, tuple(imports)))
              for source, targets in sorted(graph.items()) for target, imports in sorted(targets.items())
              if place[source] >= place[target]]
    assert upward == [], "imports of a layer that the module map lists as high or higher:\n" + "\n".join(upward)
