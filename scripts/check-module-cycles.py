#!/usr/bin/env python3
"""Fails when the modules of any crate in the workspace depend on each other in a cycle.

Crates cannot form cycles (cargo refuses them); modules inside one crate can, and a
cycle there is how a crate turns back into one tangle. This reads every `.rs` file of
each crate under the given roots, collects the module paths it names (`use crate::…`,
`crate::…` in code, `super::…`), and builds, for every parent module, the graph of
edges between its children: a reference from `a::b::x` to `a::c::y` is the edge
`b → c` among `a`'s children; from `a::b` to `d::e` it is `a → d` at the crate root.
A module naming its own ancestors or descendants is hierarchy, not an edge (a child
may use what its parent defines; the parent declares the child). Any strongly
connected component of two or more siblings is reported with the references that
make it, and the exit status is 1.

Usage: check-module-cycles.py [--self-test] [CRATE_DIR …]   (default: every crate
member found under the workspace root's host/, harness/, guest-sdk/ … via Cargo.toml)
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

COMMENT_LINE = re.compile(r"//.*?$", re.M)
COMMENT_BLOCK = re.compile(r"/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
RAW_STRING = re.compile(r'r(#+)".*?"\1', re.S)
USE_STMT = re.compile(r"\buse\s+((?:crate|super|self)\b[^;]*);", re.S)
INLINE_PATH = re.compile(r"\b((?:crate|super)(?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))+)")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def strip_noise(src: str) -> str:
    """Source without comments and string literals (their text is not code)."""
    src = RAW_STRING.sub('""', src)
    src = COMMENT_BLOCK.sub(" ", src)
    src = STRING.sub('""', src)
    return COMMENT_LINE.sub("", src)


def expand_use_tree(tree: str) -> list[list[str]]:
    """`crate::{a::b, c::{d, e as f}}` → [[crate,a,b],[crate,c,d],[crate,c,e]]."""
    tree = re.sub(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*", "", tree)
    tree = re.sub(r"\s+", "", tree)
    out: list[list[str]] = []

    def walk(prefix: list[str], s: str) -> None:
        # split s at top-level commas
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:i])
                start = i + 1
        parts.append(s[start:])
        for part in parts:
            if not part:
                continue
            brace = part.find("{")
            if brace >= 0:
                head = part[:brace].rstrip(":")
                inner = part[brace + 1 : part.rfind("}")]
                segs = [x for x in head.split("::") if x]
                walk(prefix + segs, inner)
            else:
                segs = [x for x in part.split("::") if x and x != "*"]
                out.append(prefix + segs)

    walk([], tree)
    return out


class Crate:
    """The modules of one crate root (lib.rs, main.rs or a bin) and their references."""

    def __init__(self, root_file: Path):
        self.root_file = root_file
        self.files: dict[tuple[str, ...], Path] = {}
        self._discover(root_file, ())

    def _discover(self, file: Path, path: tuple[str, ...]) -> None:
        self.files[path] = file
        try:
            src = strip_noise(file.read_text())
        except OSError:
            return
        if file.name in ("lib.rs", "main.rs", "mod.rs") or path == ():
            base = file.parent
        else:
            base = file.parent / file.stem
        for m in re.finditer(r"(?:#\[path\s*=\s*\"[^\"]*\"\]\s*)?\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", src):
            name = m.group(1)
            for cand in (base / f"{name}.rs", base / name / "mod.rs"):
                if cand.exists():
                    self._discover(cand, path + (name,))
                    break

    def resolve(self, segs: list[str], here: tuple[str, ...]) -> tuple[str, ...] | None:
        """The longest known module a path names, or None for a path outside the crate."""
        if not segs:
            return None
        if segs[0] == "crate":
            base: tuple[str, ...] = ()
            rest = segs[1:]
        elif segs[0] in ("super", "self"):
            base = here
            rest = segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    if not base:
                        return None
                    base = base[:-1]
                rest = rest[1:]
        else:
            return None
        best = base
        cur = base
        for s in rest:
            cur = cur + (s,)
            if cur in self.files:
                best = cur
            else:
                break
        return best

    def edges(self) -> dict[tuple[str, ...], dict[tuple[str, str], list[str]]]:
        """parent → {(child_from, child_to): [evidence…]}."""
        graph: dict[tuple[str, ...], dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
        for here, file in self.files.items():
            try:
                src = strip_noise(file.read_text())
            except OSError:
                continue
            paths: list[list[str]] = []
            for m in USE_STMT.finditer(src):
                paths.extend(expand_use_tree(m.group(1)))
            no_use = USE_STMT.sub(" ", src)
            for m in INLINE_PATH.finditer(no_use):
                paths.append(m.group(1).split("::"))
            for segs in paths:
                target = self.resolve(segs, here)
                if target is None:
                    continue
                n = 0
                while n < len(here) and n < len(target) and here[n] == target[n]:
                    n += 1
                if n == len(here) or n == len(target):
                    continue  # ancestor or descendant: hierarchy
                parent = here[:n]
                graph[parent][(here[n], target[n])].append(f"{file}: {'::'.join(segs)}")
        return graph


def sccs(nodes: set[str], adj: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check_crate(root_file: Path) -> list[str]:
    """Problems (one per cycle) in the crate rooted at `root_file`."""
    crate = Crate(root_file)
    problems = []
    for parent, edges in sorted(crate.edges().items()):
        adj: dict[str, set[str]] = defaultdict(set)
        nodes: set[str] = set()
        for (a, b) in edges:
            adj[a].add(b)
            nodes.update((a, b))
        for comp in sccs(nodes, adj):
            where = "::".join(("crate",) + parent)
            lines = [f"{root_file}: module cycle among {where}'s children: {' ↔ '.join(comp)}"]
            for (a, b), ev in sorted(edges.items()):
                if a in comp and b in comp:
                    lines.append(f"    {a} → {b}  (e.g. {ev[0]})")
            problems.append("\n".join(lines))
    return problems


def crate_roots(dirs: list[Path]) -> list[Path]:
    """lib.rs / main.rs / src/bin/*.rs of each crate directory."""
    roots = []
    for d in dirs:
        src = d / "src"
        for name in ("lib.rs", "main.rs"):
            if (src / name).exists():
                roots.append(src / name)
        if (src / "bin").is_dir():
            for f in sorted((src / "bin").glob("*.rs")):
                roots.append(f)
    return roots


def workspace_crates(root: Path) -> list[Path]:
    """Every directory under `root` with a Cargo.toml that has a [package] (no target/, node_modules/)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("target", "node_modules", ".git") and not d.startswith(".")]
        if "Cargo.toml" in filenames and "[package]" in (Path(dirpath) / "Cargo.toml").read_text():
            out.append(Path(dirpath))
    return sorted(out)


def self_test() -> int:
    """A deliberately introduced cycle must be found, and a clean crate must pass."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        (src / "store").mkdir(parents=True)
        (src / "lib.rs").write_text("mod a;\nmod b;\nmod store;\n")
        (src / "a.rs").write_text("use crate::b::Thing;\npub struct A;\n")
        (src / "b.rs").write_text("pub struct Thing;\n// use crate::a::A; (a comment is no edge)\n")
        (src / "store" / "mod.rs").write_text("mod db;\nmod runs;\npub use db::Db;\n")
        (src / "store" / "db.rs").write_text("pub struct Db;\n")
        (src / "store" / "runs.rs").write_text("use super::{db::Db};\nfn f(_: crate::b::Thing) {}\n")
        if check_crate(src / "lib.rs"):
            print("self-test FAILED: a clean crate was reported", file=sys.stderr)
            return 1
        (src / "b.rs").write_text("pub struct Thing;\nfn g() -> crate::a::A { crate::a::A }\n")
        (src / "store" / "db.rs").write_text("pub struct Db;\nuse super::runs::*;\n")
        problems = check_crate(src / "lib.rs")
        found = "\n".join(problems)
        if len(problems) != 2 or "a ↔ b" not in found or "db ↔ runs" not in found:
            print("self-test FAILED: the planted cycles were not both reported:\n" + found, file=sys.stderr)
            return 1
    print("self-test: planted cycles found (crate root and nested), clean crate passes")
    return 0


def main(argv: list[str]) -> int:
    if "--self-test" in argv:
        return self_test()
    root = Path(__file__).resolve().parent.parent
    dirs = [Path(a) for a in argv] if argv else workspace_crates(root)
    problems = []
    roots = crate_roots(dirs)
    for r in roots:
        problems.extend(check_crate(r))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} module cycle(s) found", file=sys.stderr)
        return 1
    print(f"no module cycles in {len(roots)} crate roots")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
