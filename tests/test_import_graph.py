"""The one-way flow, checked on the source: who may import whom.

Walks every module of the project's packages with ``ast`` (lazy imports inside functions
and ``TYPE_CHECKING`` blocks included) and fails when

- a page or a dashboard widget imports SQLAlchemy, ``store.models`` or ``services.disclosure``
  (they read through ``services.reads`` with an ``Audience``),
- two top-level packages import each other, directly or round a longer loop, or
- a package imports one above it in the flow (``LAYERS``).

Each rule has a control: a temporary module that breaks it is caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The top-level packages, lowest first, with each one's job. A package may import only
#: packages in lower layers; packages in one layer never import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config",),  # settings (one registry) and the demo's published constants
    ("geo",),  # pure, typed analysis: points, grids, hot spots, flags, links, impact, measures
    ("store",),  # tables, migrations, queries and the audit trail
    ("services",),  # access, disclosure, the read service and the write services
    ("reports", "data"),  # meeting figures, pack and PDFs; the demo and first-run data
    ("dashboard",),  # pages and widgets only
    ("cli",),  # the safer-spaces command line
)
PACKAGES = tuple(name for layer in LAYERS for name in layer)
FORBIDDEN_IN_DASHBOARD = ("sqlalchemy", "store.models", "services.disclosure")


def imports_of(path: Path, package: str) -> set[str]:
    """Return the absolute module names a source file imports (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def modules(root: Path) -> dict[str, Path]:
    """Return every module of the project's packages under ``root``, by dotted name."""
    out = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def widget_violations(root: Path) -> list[str]:
    """Return 'module imports name' for each forbidden import in a page or widget."""
    problems = []
    for name, path in modules(root).items():
        rel = path.relative_to(root).as_posix()
        if not rel.startswith("dashboard/"):
            continue
        for imported in sorted(imports_of(path, name.rsplit(".", 1)[0])):
            if any(imported == b or imported.startswith(b + ".") for b in FORBIDDEN_IN_DASHBOARD):
                problems.append(f"{rel} imports {imported}")
    return problems


def package_graph(root: Path) -> nx.DiGraph:
    """Return the graph of imports between top-level packages, each edge with one example."""
    graph = nx.DiGraph()
    graph.add_nodes_from(PACKAGES)
    for name, path in modules(root).items():
        source = name.split(".")[0]
        for imported in imports_of(path, name.rsplit(".", 1)[0]):
            target = imported.split(".")[0]
            if target in PACKAGES and target != source and not graph.has_edge(source, target):
                example = f"{path.relative_to(root)} imports {imported}"
                graph.add_edge(source, target, example=example)
    return graph


def _steps(cycle: list[str]) -> list[tuple[str, str]]:
    return list(zip(cycle, [*cycle[1:], cycle[0]], strict=True))


def package_cycles(root: Path) -> list[str]:
    """Return each cycle between top-level packages, with the import that closes each step."""
    graph = package_graph(root)
    return [
        " -> ".join(graph.edges[a, b]["example"] for a, b in _steps(cycle))
        for cycle in nx.simple_cycles(graph)
    ]


def test_pages_and_widgets_never_import_sql_models_or_disclosure():
    assert widget_violations(ROOT) == []


def test_no_cycle_between_top_level_packages():
    assert package_cycles(ROOT) == []


def upward_imports(root: Path) -> list[str]:
    """Return the imports that go from a package to one in the same or a higher layer."""
    rank = {name: level for level, layer in enumerate(LAYERS) for name in layer}
    graph = package_graph(root)
    return sorted(
        graph.edges[a, b]["example"] for a, b in graph.edges if rank[a] <= rank[b]
    )


def test_the_flow_runs_one_way():
    assert upward_imports(ROOT) == []


@pytest.fixture
def copy_of_project(tmp_path: Path) -> Path:
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            if ".venv" in path.parts:
                continue
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select\n",
        "def f():\n    from store.models import Incident\n",
        "import services.disclosure\n",
        "from services import disclosure\n",
    ],
    ids=["sqlalchemy", "lazy-models", "import-disclosure", "from-store-import"],
)
def test_control_a_page_that_reads_the_database_itself_is_caught(copy_of_project, source):
    page = copy_of_project / "dashboard" / "pages" / "leaky.py"
    page.write_text(source, encoding="utf-8")
    caught = [p for p in widget_violations(copy_of_project) if "leaky" in p]
    assert caught, source


@pytest.mark.parametrize(
    ("where", "source", "example"),
    [
        ("store/leaky.py", "from services import reads\n", "store/leaky.py imports services"),
        ("services/leaky.py", "import reports.meeting\n", "services/leaky.py imports reports"),
        ("reports/leaky.py", "from data import load\n", "reports/leaky.py imports data"),
        ("dashboard/leaky.py", "from cli.main import main\n", "dashboard/leaky.py imports cli"),
    ],
    ids=["store-up-to-services", "services-up-to-reports", "same-layer", "widget-up-to-cli"],
)
def test_control_an_import_up_the_flow_is_caught(copy_of_project, where, source, example):
    (copy_of_project / where).write_text(source, encoding="utf-8")
    assert any(example in problem for problem in upward_imports(copy_of_project))


def test_control_a_cycle_between_packages_is_caught(copy_of_project):
    (copy_of_project / "geo" / "leaky.py").write_text("from dashboard import loaders\n")
    cycles = package_cycles(copy_of_project)
    assert any("geo/leaky.py imports dashboard" in cycle for cycle in cycles)


# Numbers first, words last: disclosure works on numbers, never on sentences.
DISCLOSING = (
    "services/disclosure.py",
    "services/reads.py",
    "services/audience.py",
    "reports/meeting.py",
)


def regex_in_disclosure(root: Path) -> list[str]:
    """Return the disclosing modules that import ``re`` (a regular expression over words)."""
    return [
        rel
        for rel in DISCLOSING
        if "re" in imports_of(root / rel, rel.removesuffix(".py").replace("/", "."))
    ]


def test_no_regular_expression_in_disclosure():
    assert regex_in_disclosure(ROOT) == []


def test_control_a_regular_expression_in_disclosure_is_caught(copy_of_project):
    reads = copy_of_project / "services" / "reads.py"
    reads.write_text("import re\n" + reads.read_text(encoding="utf-8"), encoding="utf-8")
    assert regex_in_disclosure(copy_of_project) == ["services/reads.py"]
