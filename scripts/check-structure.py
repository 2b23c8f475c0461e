#!/usr/bin/env python3
"""The shape the code keeps (issue 19): checked on every test run by tests/structure.rs.

For each crate of the workspace it reads the `crate::` and `super::` paths of every source file
(tests left out) into one graph per folder of modules, and fails on
  - an import cycle between sibling modules: the crate's top-level modules, or the files of one
    folder (test-only files and `#[cfg(test)]` modules are not counted),
  - a wrong-way edge: drivers/ or models/ naming the appliance crate (`keepsake::`), or any
    module of the appliance importing its `cli` (the subcommands sit on top of everything),
  - a source file over 800 lines.

    scripts/check-structure.py [ROOT]      # ROOT: the repository (default: this script's)
"""

import os
import re
import sys

CRATES = ["appliance", "drivers", "models", "protocol", "server"]
MAX_LINES = 800


def strip_tests_and_comments(text):
    """The file without its `#[cfg(test)] mod ... { ... }` tail and line comments."""
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod \w+\s*\{", text)
    if m:
        text = text[: m.start()]
    return re.sub(r"//.*", "", text)


def module_path(src, path):
    """The module a file holds, as path segments: `a/b/mod.rs` and `a/b.rs` are both ["a", "b"]."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def source_files(src):
    """Every .rs file under src except test-only ones (declared `#[cfg(test)] mod name;`)."""
    test_only = set()
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith(".rs"):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    for name in re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod (\w+);", fh.read()):
                        here = root if f in ("mod.rs", "lib.rs", "main.rs") else os.path.join(root, f[:-3])
                        test_only.add(os.path.join(here, name + ".rs"))
                        test_only.add(os.path.join(here, name, "mod.rs"))
    for root, _, files in os.walk(src):
        for f in sorted(files):
            path = os.path.join(root, f)
            if f.endswith(".rs") and path not in test_only:
                yield path


def imports(module, text):
    """The module paths a file's code names: `crate::a::b`, `crate::{a, b}`, `super::x`."""
    found = [m.split("::") for m in re.findall(r"\bcrate::(\w+(?:::\w+)*)", text)]
    for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
        found += [[g] for g in re.findall(r"(?:^|,)\s*(\w+)", group)]
    for m in re.findall(r"\bsuper::(\w+(?:::\w+)*)", text):
        found.append(module[:-1] + m.split("::"))
    return found


def module_graphs(src):
    """One graph per folder of modules ("" for the crate's top level): an edge a -> b where a
    file under sibling a names something under sibling b, so a cycle is found at the level
    where it lives, between folders or between the files of one folder."""
    graphs = {}
    for path in source_files(src):
        module = module_path(src, path)
        for level in range(len(module)):
            graphs.setdefault("::".join(module[:level]), {}).setdefault(module[level], set())
        with open(path, encoding="utf-8") as f:
            text = strip_tests_and_comments(f.read())
        for target in imports(module, text):
            k = 0
            while k < len(module) and k < len(target) and module[k] == target[k]:
                k += 1
            if k < len(module) and k < len(target):
                graphs.setdefault("::".join(module[:k]), {}).setdefault(module[k], set()).add(target[k])
    return graphs


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue  # a re-exported item, not a module of the crate
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check(root):
    problems = []
    for crate in CRATES:
        src = os.path.join(root, crate, "src")
        if not os.path.isdir(src):
            continue
        graphs = module_graphs(src)
        for level, graph in sorted(graphs.items()):
            for c in cycles(graph):
                where = f" (in {level})" if level else ""
                problems.append(
                    f"{crate}: modules {', '.join(sorted(c))}{where} import each other in a cycle "
                    "(fix: move what they share into a module both import, or turn one edge around with a trait)"
                )
        graph = graphs.get("", {})
        if crate == "appliance":
            for module, deps in sorted(graph.items()):
                if "cli" in deps and module not in ("cli", "(root)"):
                    problems.append(
                        f"appliance: {module} imports cli (fix: move what it needs out of cli/; only the binary's main uses cli)"
                    )
        for path in source_files(src):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if crate in ("drivers", "models") and re.search(r"\bkeepsake::", strip_tests_and_comments(text)):
                problems.append(f"{os.path.relpath(path, root)}: {crate}/ names the appliance crate (fix: drivers/ and models/ never import it)")
            lines = text.count("\n")
            if lines > MAX_LINES:
                problems.append(f"{os.path.relpath(path, root)}: {lines} lines, over {MAX_LINES} (fix: split it by what it is about)")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} structure problem(s)")
        return 1
    print("structure ok: no module cycle, no wrong-way import, no file over 800 lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
