"""Lock discipline, checked on the sources: no mutex is held across a
co_await (network I/O in router/ and mesh/ is only ever done by co_awaiting
Asio operations, so this also means no lock is held across network I/O).

A small scanner tracks brace scopes in every .cc/.h of router/ and mesh/:
a lock object (std::lock_guard, std::unique_lock, std::shared_lock,
std::scoped_lock) is live from its declaration to the end of its scope or an
explicit `<name>.unlock()`; a `co_await` while any lock is live is a
violation, reported with file and line. Comments and string literals are
ignored. The scanner is deliberately simple: code that needs to break the
rule has to be restructured, not annotated.
"""
import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOCK_DECL = re.compile(
    r"std::(?:lock_guard|unique_lock|shared_lock|scoped_lock)\s*(?:<[^>]*>)?\s+(\w+)\s*[({]")


def strip_code(text):
    """Removes comments and string/char literals, keeping line structure."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"(', i):
            j = text.find(')"', i + 3)
            j = n if j < 0 else j + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def violations(path):
    code = strip_code(path.read_text(errors="replace"))
    found = []
    depth = 0
    live = []  # (name, depth at declaration)
    for lineno, line in enumerate(code.splitlines(), 1):
        for m in LOCK_DECL.finditer(line):
            live.append((m.group(1), depth))
        for name, _ in list(live):
            if re.search(rf"\b{name}\.unlock\(\)", line):
                live = [x for x in live if x[0] != name]
        if "co_await" in line and live:
            found.append(f"{path.relative_to(ROOT)}:{lineno}: co_await while holding "
                         f"{', '.join(n for n, _ in live)}")
        for ch in line:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                live = [x for x in live if x[1] <= depth]
    return found


class LockDisciplineTest(unittest.TestCase):
    def test_scanner_catches_a_lock_across_co_await(self):
        import tempfile
        bad = "awaitable<void> f() {\n  std::lock_guard lock(mu_);\n  co_await x();\n}\n"
        good = ("awaitable<void> f() {\n  {\n    std::lock_guard lock(mu_);\n  }\n"
                "  std::unique_lock l(m);\n  l.unlock();\n  co_await x();\n}\n")
        with tempfile.TemporaryDirectory(dir=ROOT / "tests") as d:
            p = pathlib.Path(d) / "x.cc"
            p.write_text(bad)
            self.assertEqual(len(violations(p)), 1)
            p.write_text(good)
            self.assertEqual(violations(p), [])

    def test_no_lock_is_held_across_co_await_in_router_and_mesh(self):
        files = [p for folder in ("router", "mesh") for p in sorted((ROOT / folder).glob("*"))
                 if p.suffix in (".cc", ".h")]
        self.assertGreater(len(files), 10)
        found = [v for p in files for v in violations(p)]
        self.assertEqual(found, [], "\n".join(found))


if __name__ == "__main__":
    unittest.main()
