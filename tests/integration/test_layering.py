"""The layering check (tools/dev/check_layering.py): the tree passes it, and
an include across layers is reported with its file and line."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "dev" / "check_layering.py"


def run(root):
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


class LayeringTest(unittest.TestCase):
    def test_the_tree_keeps_its_layers(self):
        r = run(ROOT)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_includes_across_layers_are_reported(self):
        with tempfile.TemporaryDirectory() as d:
            root = pathlib.Path(d)
            for folder in ("radix", "policies", "mesh", "router"):
                (root / folder).mkdir()
            (root / "radix" / "ok.h").write_text('#include <vector>\n#include "radix/result.h"\n')
            (root / "radix" / "bad.cc").write_text('#include "radix/ok.h"\n#include <boost/asio.hpp>\n')
            (root / "policies" / "bad.h").write_text('#include "radix/ok.h"\n#include "mesh/frame.h"\n')
            (root / "mesh" / "bad.cc").write_text('#include "router/proxy.h"\n')
            (root / "router" / "ok.cc").write_text('#include "mesh/frame.h"\n#include <boost/beast.hpp>\n')
            r = run(root)
            self.assertEqual(r.returncode, 1)
            lines = sorted(l for l in r.stderr.splitlines() if ": " in l and "layering:" not in l)
            self.assertEqual(lines, [
                "mesh/bad.cc:1: mesh/ may not include router/proxy.h",
                "policies/bad.h:2: policies/ may not include mesh/frame.h",
                "radix/bad.cc:2: radix/ may not use boost/asio.hpp",
            ])


if __name__ == "__main__":
    unittest.main()
