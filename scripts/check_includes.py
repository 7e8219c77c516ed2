#!/usr/bin/env python3
"""Checks every #include of the product code against the house rules.

The rules are read from docs/architecture.md, between the markers
<!-- include-rules:begin --> and <!-- include-rules:end -->: a table of parts
(| part | folders | may include |) and a table of third-party corners
(| library | headers | only in |). Checked, for every .c/.h under the parts'
folders (tests/, bench/, fuzz/ are not product code and are not checked):

  1. an include of another part's header is allowed by the parts table
     (no upward include);
  2. a third-party header in a corner is included only where the corner says;
  3. no include cycle between product files.

usage: scripts/check_includes.py [SOURCE_DIR]     exit 0 ok, 1 violations
"""
import fnmatch
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
# Headers generated into the build tree, by the part that generates them.
GENERATED = {"km_version.h": "core", "commands.gen.h": "cli"}


def table_rows(text, title):
    """Rows of the markdown table that follows a line starting with title."""
    rows, on = [], False
    for line in text.splitlines():
        if line.startswith(title):
            on = True
            continue
        if on:
            s = line.strip()
            if not s.startswith("|"):
                if rows:
                    break
                continue
            cells = [c.strip().strip("`") for c in s.strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue
            rows.append(cells)
    return rows[1:]  # drop the header row


def load_rules(root):
    doc = open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8").read()
    m = re.search(r"<!-- include-rules:begin -->(.*)<!-- include-rules:end -->", doc, re.S)
    if not m:
        sys.exit("check_includes: no include-rules block in docs/architecture.md")
    block = m.group(1)
    parts = {}  # name -> (folders, allowed parts)
    for name, folders, allowed in table_rows(block, "Parts"):
        fl = [f.strip().strip("`").rstrip("/") for f in folders.split(",") if f.strip()]
        al = {a.strip().strip("`") for a in allowed.split(",") if a.strip() not in ("", "-")}
        parts[name] = (fl, al)
    corners = []  # (library, header patterns, allowed path patterns)
    for lib, headers, where in table_rows(block, "Corners"):
        hp = [h.strip().strip("`") for h in headers.split(",") if h.strip()]
        wp = [w.strip().strip("`") for w in where.split(",") if w.strip()]
        corners.append((lib, hp, wp))
    if not parts or not corners:
        sys.exit("check_includes: the include-rules block needs a Parts and a Corners table")
    for name, (_, al) in parts.items():
        for a in al:
            if a != "*" and a not in parts:
                sys.exit(f"check_includes: part {name} may include unknown part {a}")
    return parts, corners


def part_of(rel, parts):
    best, best_len = None, -1
    for name, (folders, _) in parts.items():
        for f in folders:
            if (rel == f or rel.startswith(f + "/")) and len(f) > best_len:
                best, best_len = name, len(f)
    return best


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    parts, corners = load_rules(root)
    files = {}  # rel path -> part
    for name, (folders, _) in parts.items():
        for f in folders:
            for d, _, names in os.walk(os.path.join(root, f)):
                for n in names:
                    if n.endswith((".c", ".h")):
                        rel = os.path.relpath(os.path.join(d, n), root)
                        if part_of(rel, parts) == name:
                            files[rel] = name
    # Public and internal headers by name: knotmap/x.h -> its file.
    by_include = {}
    for rel in files:
        m = re.search(r"/include/(knotmap/[^/]+\.h)$", rel)
        if m:
            by_include.setdefault(m.group(1), rel)
    by_include["km_internal.h"] = "core/internal/km_internal.h"

    errors = []
    graph = {rel: [] for rel in files}
    for rel, part in sorted(files.items()):
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for kind, inc in INCLUDE_RE.findall(text):
            where = f"{rel}: #include {kind}{inc}{'>' if kind == '<' else chr(34)}"
            for lib, hp, wp in corners:
                if any(fnmatch.fnmatch(inc, h) for h in hp) and \
                        not any(fnmatch.fnmatch(rel, w) for w in wp):
                    errors.append(f"{where}: {lib} belongs only in {', '.join(wp)}")
            if kind == "<":
                continue
            target = None
            local = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            if local in files:
                target = local
            elif inc in by_include:
                target = by_include[inc]
            elif inc in GENERATED:
                tpart = GENERATED[inc]
            else:
                # A private header of the same part (its src/ dir, or a
                # board's folder): the part's own business.
                same = [f for f in files if files[f] == part and f.endswith("/" + inc)]
                if same:
                    target = same[0]
                else:
                    errors.append(f"{where}: not found in any part")
                    continue
            if target:
                tpart = files[target]
                graph[rel].append(target)
            allowed = parts[part][1]
            if tpart != part and "*" not in allowed and tpart not in allowed:
                errors.append(f"{where}: {part} may not include {tpart} "
                              f"(docs/architecture.md: {part} may include "
                              f"{', '.join(sorted(allowed)) or 'nothing'})")

    # Cycles between product files (depth-first search, colours).
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph[n]:
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                errors.append("include cycle: " + " -> ".join(cyc))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    sys.setrecursionlimit(10000)
    for n in sorted(graph):
        if n not in state:
            visit(n)

    for e in errors:
        print("check_includes:", e)
    n_inc = sum(len(v) for v in graph.values())
    if errors:
        print(f"check_includes: {len(errors)} violation(s) in {len(files)} files")
        return 1
    print(f"check_includes: {len(files)} product files, {n_inc} includes between them: "
          "every include follows docs/architecture.md, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
