"""The house keeps its shape: `core/` in layers, each importing only the layers below it (lazy imports
inside functions included), no import cycle between `core` packages, and no module too long to read.

The ORM models (`models.py` of each package, the `core.models` registry) are the shared vocabulary
every layer reads; they are left out of the graph.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAX_MODULE_LINES = 500
SOURCE_PACKAGES = ("api", "core", "etl", "retrieval", "worker", "bench")

# Bottom to top. A unit is a package of core (`core.documents`) or a module directly in it (`core.queue`).
LAYERS: list[set[str]] = [
    {  # the ground floor: configuration, storage of rows and files, callers and their limits
        "core.settings", "core.database", "core.errors", "core.logs", "core.tracing", "core.metrics",
        "core.queue", "core.secret_key", "core.model_providers", "core.outbound", "core.migrate",
        "core.api_keys", "core.workspaces", "core.rate_limits", "core.queries", "core.files",
        "core.configuration",
    },
    {"core.index"},  # the engines: registry, vector and term writes, live chunks, metadata on points
    {"core.ingestion"},  # a document's run: claim, extract and plan, batches, swap-in, re-index, recovery
    {"core.search"},  # one search function for every caller
    {  # the domain operations, calling down
        "core.datasets", "core.documents", "core.segments", "core.metadata", "core.tags",
        "core.datasources", "core.online_sources", "core.knowledge_pipeline", "core.dataset_archive",
        "core.consistency", "core.maintenance", "core.health",
    },
]  # fmt: skip
LEFT_OUT = {"core.models", "core.migrations", "core"}


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _is_model(module: str) -> bool:
    return module == "core.models" or module.endswith(".models")


def _imports(path: Path) -> set[str]:
    """Every core module the file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from core.index import live` names a module; `from core.index.live import x` a name in one.
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("core.") and _is_module(name)}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _core_modules() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / "core").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if _unit(name) not in LEFT_OUT and not _is_model(name):
            modules[name] = path
    return modules


def _unit_edges() -> dict[str, dict[str, str]]:
    """unit -> {unit it imports: one module that does}"""
    edges: dict[str, dict[str, str]] = {}
    for name, path in _core_modules().items():
        for imported in _imports(path):
            if _is_model(imported) or _unit(imported) in LEFT_OUT or _unit(imported) == _unit(name):
                continue
            edges.setdefault(_unit(name), {}).setdefault(_unit(imported), name)
    return edges


def _layer(unit: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if unit in layer)


def test_every_core_package_has_a_layer():
    units = {_unit(name) for name in _core_modules()}
    placed = set().union(*LAYERS)
    assert units - placed == set(), "place the new core package in a layer of this test"
    assert placed - units == set(), "a layer names a package that is gone"


def test_core_imports_only_downwards():
    upward = [
        f"{module} ({unit}) imports {target}"
        for unit, targets in _unit_edges().items()
        for target, module in targets.items()
        if _layer(target) > _layer(unit)
    ]
    assert upward == []


def test_no_import_cycle_between_core_packages():
    edges = {unit: set(targets) for unit, targets in _unit_edges().items()}
    cycles = []
    for start in edges:
        # Walk from each unit; a path that comes back to it is a cycle.
        stack = [(start, [start])]
        seen = set()
        while stack:
            unit, path = stack.pop()
            for target in edges.get(unit, ()):
                if target == start:
                    cycles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert cycles == []


def test_no_module_is_over_500_lines():
    long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for package in SOURCE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []
