"""The layout: recipes on top, machinery in named packages, imports one way, no circles."""

import ast
from pathlib import Path

import recipes

ROOT = Path(recipes.__file__).parent.parent
# Lower numbers sit lower: a module may import only from its own level or below, and
# from its own level only inside its own package.
# `layers` sits just above `callbacks`: it imports the schedules to register them, so
# that a recipe's `.keras` file (optimizer included) loads after `import layers`.
LEVELS = {"__main__": 4, "recipe": 3, "engine": 2, "data": 1, "diagnostics": 1,
          "layers": 0.5, "callbacks": 0}


def project_modules():
    for package in ("recipes", "layers", "callbacks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def place(module):
    """(level, package) of a project module."""
    parts = module.split(".")
    if parts[0] != "recipes":
        return LEVELS[parts[0]], parts[0]
    if len(parts) == 1:
        return LEVELS["recipe"], "recipes"  # the registry, imported with every module
    if parts[1] == "__main__":
        return LEVELS["__main__"], "__main__"
    if parts[1] in LEVELS:
        return LEVELS[parts[1]], parts[1]
    return LEVELS["recipe"], "recipes"  # a preset imports its task: one level


def imports(path, module):
    """Every project module `path` imports, at module level or inside functions.

    `from package import name` counts as importing the module `package.name` when
    there is one, else as importing `package`.
    """
    known = dict(project_modules())
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {n for n in found if n in known} - {module}


def test_the_top_of_recipes_holds_only_recipes():
    top = sorted(p.stem for p in (ROOT / "recipes").glob("*.py"))
    assert set(top) - {"__init__", "__main__"} == set(recipes.list_recipes())
    for name in recipes.list_recipes():
        assert recipes.get(name).name == name
        # A recipe imports another only as the task it is a preset of.
        found = imports(ROOT / "recipes" / f"{name}.py", f"recipes.{name}")
        others = {m.split(".")[1] for m in found if m.count(".") == 1
                  and m.split(".")[1] in recipes.list_recipes()}
        assert others <= {recipes.preset_of(name)} - {None}, (name, others)


def test_imports_run_one_way():
    wrong = []
    for module, path in project_modules():
        level, package = place(module)
        for target in imports(path, module):
            t_level, t_package = place(target)
            if target == "recipes":  # the registry: the CLI's, and every package's parent
                continue
            if t_level > level or (t_level == level and t_package != package):
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_no_import_circles():
    edges = {m: imports(p, m) for m, p in project_modules()}
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "open":
                raise AssertionError(" -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node, [])
