#!/usr/bin/env python3
"""Regenerates the values table of helm/radixmesh/README.md from values.yaml.

Every key documented in values.yaml with a "# -- " comment becomes a row:
dotted path, default (as JSON), description (the comment). A key whose value
is a block (a map or list written below it) is one row for the whole block.
Python standard library only; values.yaml is read with a small parser for the
subset it uses (maps, lists of scalars, flow [] and {}, quoted strings).

  python3 helm/values_table.py            rewrite the table in README.md
  python3 helm/values_table.py --print    print the table

tests/node/chart.test.mjs fails when a documented key has no row.
"""
import json
import re
import sys
from pathlib import Path

CHART = Path(__file__).resolve().parent / "radixmesh"
KEY = re.compile(r"^(\s*)([\w.-]+):(.*)$")
ITEM = re.compile(r"^(\s*)-\s+(.*)$")
TABLE_HEAD = "| key | default | description |"


def scalar(text):
    t = text.split(" #")[0].strip()
    if t in ("", "~", "null"):
        return None
    if t == "[]":
        return []
    if t == "{}":
        return {}
    if t[0] in "\"'" and t[-1] == t[0]:
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if re.fullmatch(r"-?\d+\.\d+", t):
        return float(t)
    return t


def parse_block(lines, i, indent):
    """Parses the map or list starting at lines[i] (indented >= indent)."""
    result = None
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.strip().startswith("#"):
            i += 1
            continue
        cur = len(line) - len(line.lstrip())
        if cur < indent:
            break
        item = ITEM.match(line)
        if item:
            result = result if isinstance(result, list) else []
            result.append(scalar(item.group(2)))
            i += 1
            continue
        m = KEY.match(line)
        if not m:
            raise ValueError(f"values.yaml line {i + 1}: unsupported syntax")
        result = result if isinstance(result, dict) else {}
        if m.group(3).strip() and not m.group(3).strip().startswith("#"):
            result[m.group(2)] = scalar(m.group(3))
            i += 1
        else:
            nxt = i + 1
            while nxt < len(lines) and (not lines[nxt].strip() or lines[nxt].strip().startswith("#")):
                nxt += 1
            child_indent = len(lines[nxt]) - len(lines[nxt].lstrip()) if nxt < len(lines) else 0
            if nxt < len(lines) and (child_indent > cur or (child_indent == cur and ITEM.match(lines[nxt]))):
                result[m.group(2)], i = parse_block(lines, nxt, child_indent)
            else:
                result[m.group(2)] = None
                i += 1
    return result, i


def rows(text):
    lines = text.split("\n")
    values, _ = parse_block(lines, 0, 0)
    out, stack, comment, skip = [], [], [], -1
    for line in lines:
        t = line.strip()
        if t.startswith("#"):
            comment.append(t[1:].strip())
            continue
        m = KEY.match(line)
        if not m:
            if not t:
                comment = []
            continue
        indent = len(m.group(1))
        if 0 <= skip < indent:
            continue
        skip = -1
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
        if comment and comment[0].startswith("-- "):
            v = values
            for _, k in stack:
                v = v[k]
            desc = " ".join([comment[0][3:]] + comment[1:])
            out.append((".".join(k for _, k in stack), json.dumps(v), desc))
            if not m.group(3).strip():
                skip = indent
        comment = []
    return out


def table(text):
    lines = [TABLE_HEAD, "|---|---|---|"]
    for path, default, desc in rows(text):
        default, desc = default.replace("|", r"\|"), desc.replace("|", r"\|")
        lines.append(f"| `{path}` | `{default}` | {desc} |")
    return "\n".join(lines) + "\n"


def main():
    t = table((CHART / "values.yaml").read_text())
    if "--print" in sys.argv:
        sys.stdout.write(t)
        return
    readme = CHART / "README.md"
    text = readme.read_text()
    start = text.index(TABLE_HEAD)
    end = start
    for line in text[start:].split("\n"):
        if not line.startswith("|"):
            break
        end += len(line) + 1
    readme.write_text(text[:start] + t + text[end:].lstrip("\n"))


if __name__ == "__main__":
    main()
