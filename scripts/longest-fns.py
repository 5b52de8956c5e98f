#!/usr/bin/env python3
"""The longest non-test Rust functions (and Leptos components) in the workspace.

    python3 scripts/longest-fns.py            # the 10 longest
    python3 scripts/longest-fns.py --over 60  # every function longer than 60 lines

A function's length is counted from its `fn` line to its closing brace. Test code is
left out: files under `tests/`, `benches/` and `fuzz/`, `#[cfg(test)]` modules and
`#[test]` functions. Generated and vendored folders (target, node_modules, dist) are
skipped.
"""
import os
import re
import sys

SKIP_DIRS = {"target", "node_modules", "dist", ".git", "tests", "benches", "fuzz"}
FN_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")


def strip_code(text):
    """Blank out comments, strings and char literals, keeping line structure."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            hashes = m.group(1)
            end = text.find('"' + hashes, i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)  # a lifetime
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(lines, start):
    """Index of the line holding the brace that closes the first `{` at or after `start`."""
    depth, opened = 0, False
    for k in range(start, len(lines)):
        for ch in lines[k]:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return k
            elif ch == ";" and not opened and depth == 0:
                return None  # a declaration without a body
    return None


def functions(path):
    with open(path, encoding="utf-8") as f:
        lines = strip_code(f.read()).split("\n")
    skip_until = -1
    for i, line in enumerate(lines):
        if i <= skip_until:
            continue
        stripped = line.strip()
        if stripped.startswith("#[cfg(test)]") or stripped == "#[test]" or stripped.startswith("#[tokio::test"):
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            end = block_end(lines, j)
            if end is not None:
                skip_until = end
            continue
        m = FN_RE.match(line)
        if not m:
            continue
        end = block_end(lines, i)
        if end is not None:
            yield m.group(1), i + 1, end - i + 1


def main():
    args = sys.argv[1:]
    over = int(args[args.index("--over") + 1]) if "--over" in args else None
    found = []
    for root, dirs, files in os.walk("."):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in files:
            if name.endswith(".rs") and name != "tests.rs" and name != "proptests.rs":
                path = os.path.join(root, name)[2:]
                for fn, line, length in functions(path):
                    found.append((length, f"{path}:{line}", fn))
    found.sort(key=lambda t: (-t[0], t[1]))
    chosen = [t for t in found if t[0] > over] if over is not None else found[:10]
    for length, where, fn in chosen:
        print(f"{length:5}  {fn:32} {where}")
    print(f"-- {sum(1 for t in found if t[0] > 50)} functions over 50 lines, "
          f"{sum(1 for t in found if t[0] > 60)} over 60, {sum(1 for t in found if t[0] > 100)} over 100")


if __name__ == "__main__":
    main()
