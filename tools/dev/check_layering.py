#!/usr/bin/env python3
"""Checks the layering of docs/architecture.md on #include lines.

Every folder's meson.build links only what the folder may use, but headers
are visible from anywhere; this check closes that gap. Each layer may
include only its own headers, those of the layers below it and the
libraries it declares:

  radix     <- std, xxhash, lz4, simdjson
  policies  <- radix
  mesh      <- radix, Asio, OpenSSL
  router    <- radix, policies, mesh, Asio/Beast, OpenSSL, nlohmann/json

Run by the build (meson custom target `layering`, on every build) and by
the tests. Prints each violation as file:line and exits 1 when there is one.
Usage: check_layering.py [--root DIR] [--stamp FILE]
"""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
PROJECT = ("radix/", "policies/", "mesh/", "router/", "tools/", "tests/")

# layer -> (project folders it may include, library prefixes it must not include)
RULES = {
    "radix": ({"radix/"}, ("boost/", "openssl/", "nlohmann/")),
    "policies": ({"policies/", "radix/"}, ("boost/", "openssl/", "nlohmann/", "simdjson", "lz4")),
    "mesh": ({"mesh/", "radix/"}, ("boost/beast", "nlohmann/")),
    "router": ({"router/", "mesh/", "radix/", "policies/"}, ()),
}


def violations(root):
    found = []
    for layer, (allowed, banned) in RULES.items():
        for path in sorted((root / layer).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                rel = path.relative_to(root)
                if target.startswith(PROJECT) and not target.startswith(tuple(allowed)):
                    found.append(f"{rel}:{no}: {layer}/ may not include {target}")
                elif target.startswith(banned):
                    found.append(f"{rel}:{no}: {layer}/ may not use {target}")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[2]))
    ap.add_argument("--stamp")
    a = ap.parse_args()
    found = violations(pathlib.Path(a.root))
    for v in found:
        print(v, file=sys.stderr)
    if found:
        print(f"layering: {len(found)} include(s) break docs/architecture.md", file=sys.stderr)
        return 1
    if a.stamp:
        pathlib.Path(a.stamp).write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
