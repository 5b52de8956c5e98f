#!/usr/bin/env python3
"""Counts, for each example under examples/, the lines a developer adds to a
fresh app of that style to embed Keyhouse: the lines between
`// keyhouse:start` and `// keyhouse:end` markers in its Rust sources and
`<!-- keyhouse -->`-marked lines of its HTML, blank lines and comments left
out. Configuration (Cargo.toml dependencies, Trunk.toml) is counted apart, and
so is the example's MCP server (src/mcp.rs, the app's own tools: every line).

    python3 scripts/embedding-lines.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def code_lines(path):
    inside = False
    count = 0
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line == "// keyhouse:start":
            inside = True
        elif line == "// keyhouse:end":
            inside = False
        elif inside and line and not line.startswith("//"):
            count += 1
    if inside:
        sys.exit(f"{path}: keyhouse:start without keyhouse:end")
    return count


def config_lines(example):
    """Dependency lines naming keyhouse crates, in the example's Cargo.toml."""
    text = (example / "Cargo.toml").read_text()
    return len(re.findall(r"^keyhouse-[a-z-]+(\.workspace)?\s*=", text, re.M))


def main():
    print(f"{'example':<14}{'code':>6}{'config':>8}{'mcp':>6}  files")
    for example in sorted((ROOT / "examples").iterdir()):
        if not (example / "Cargo.toml").exists():
            continue
        per_file = {
            str(p.relative_to(example)): code_lines(p)
            for p in sorted(example.rglob("*.rs"))
            if "target" not in p.parts and p.name != "mcp.rs"
        }
        mcp = example / "src" / "mcp.rs"
        mcp_lines = (
            sum(
                1
                for line in mcp.read_text().splitlines()
                if line.strip() and not line.strip().startswith("//")
            )
            if mcp.exists()
            else 0
        )
        total = sum(per_file.values())
        files = ", ".join(f"{f} {n}" for f, n in per_file.items() if n)
        print(f"{example.name:<14}{total:>6}{config_lines(example):>8}{mcp_lines:>6}  {files}")


if __name__ == "__main__":
    main()
