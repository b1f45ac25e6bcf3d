"""The house rules of `keras_bert_pkg`, read from the source (docs/ARCHITECTURE.md):

- folders are layered: a module imports only from its own layer or the ones below it;
- no import cycle between modules, counting imports inside functions too;
- no import of the package inside a function (nothing hides from these rules), and no
  `__import__` / `importlib` to find modules at run time.
"""

import ast
from collections import defaultdict
from pathlib import Path

from tests.test_case import TestCase

PACKAGE = Path(__file__).resolve().parents[1] / "keras_bert_pkg"

# Bottom to top: a module may import from its own layer and from layers before it.
LAYERS = (
    ("backend", "atomic_files", "broken_files", "frozen_weights", "keras_workarounds"),
    ("distribute",),
    ("checkpoints",),
    ("text",),
    ("layers",),
    ("metrics",),
    ("data",),
    ("models",),
    ("evaluation",),
    ("training",),
    ("export",),
    ("convert", "__init__"),
)


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module):
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module}: its folder {top!r} is in no layer of LAYERS")


def _imports(path, modules):
    """`[(imported module, line, inside a function)]` of one file's package imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "keras_bert_pkg":
                        found.append((alias.name, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").split(".")[0] == "keras_bert_pkg":
                for alias in child.names:
                    target = f"{child.module}.{alias.name}"
                    found.append((target if target in modules else child.module, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _dynamic_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "__import__":
            found.append(node.lineno)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(name.split(".")[0] == "importlib" for name in names):
                found.append(node.lineno)
    return found


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return result


class LayeringTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.modules = _modules()
        cls.graph = defaultdict(set)
        cls.edges = []
        for module, path in cls.modules.items():
            cls.graph[module]
            for target, line, in_function in _imports(path, cls.modules):
                if target != module:
                    cls.graph[module].add(target)
                    cls.edges.append((module, target, f"{path.name}:{line}", in_function))

    def test_every_folder_has_a_layer(self):
        for module in self.modules:
            _layer(module)

    def test_no_folder_imports_one_above_it(self):
        upward = [f"{source} ({where}) imports {target}"
                  for source, target, where, _ in self.edges if _layer(target) > _layer(source)]
        self.assertEqual(upward, [])

    def test_no_import_cycle_between_modules(self):
        self.assertEqual(_cycles(self.graph), [])

    def test_no_package_import_inside_a_function(self):
        hidden = [f"{source} ({where}) imports {target} inside a function"
                  for source, target, where, in_function in self.edges if in_function]
        self.assertEqual(hidden, [])

    def test_no_module_found_at_run_time(self):
        dynamic = {module: lines for module, path in self.modules.items()
                   if (lines := _dynamic_imports(path))}
        self.assertEqual(dynamic, {})

    def test_the_checker_finds_what_it_must(self):
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        self.assertEqual(_cycles(graph), [["a", "b", "c"]])
        self.assertGreater(_layer("keras_bert_pkg.export.export_model"), _layer("keras_bert_pkg.models.bert_task"))
        source = PACKAGE / "models" / "bert_task.py"
        self.assertIn(("keras_bert_pkg.models.bert_backbone", False),
                      [(target, inside) for target, _, inside in _imports(source, self.modules)])
