#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layering check passes on the tree and fails, naming file and line, on planted violations.

Run by ctest (label layering): python3 tests/layering/check_layering_test.py SOURCE_DIR
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else ".").resolve()
SCRIPT = SOURCE / "scripts" / "check_layering.py"


def run(root):
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True)


class CheckLayeringTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="switchyard-layering-"))
        shutil.copytree(SOURCE / "include", self.tmp / "include")
        shutil.copytree(SOURCE / "src", self.tmp / "src")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def plant(self, rel, line):
        path = self.tmp / rel
        text = path.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next(i for i, l in enumerate(text) if l.startswith("#pragma once")) + 1
        text.insert(at, line + "\n")
        path.write_text("".join(text), encoding="utf-8")
        return at + 1  # 1-based line of the planted include

    def test_the_tree_follows_every_arrow(self):
        r = run(SOURCE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_stats_including_serving_fails_and_names_file_and_line(self):
        line = self.plant("include/switchyard/stats/t_test.hpp",
                          "#include <switchyard/serving/deployment.hpp>")
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"include/switchyard/stats/t_test.hpp:{line}: stats may not include serving",
                      r.stdout)

    def test_registry_including_serving_fails(self):
        self.plant("include/switchyard/registry/model_registry.hpp",
                   '#include "switchyard/serving/traffic_router.hpp"')
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("registry may not include serving", r.stdout)

    def test_serving_including_shadow_and_core_including_anything_fail(self):
        (self.tmp / "include/switchyard/shadow").mkdir(exist_ok=True)
        (self.tmp / "include/switchyard/shadow/x.hpp").write_text("#pragma once\n")
        self.plant("include/switchyard/serving/deployment.hpp", "#include <switchyard/shadow/x.hpp>")
        self.plant("include/switchyard/core/model.hpp",
                   "#include <switchyard/monitoring/version_stats.hpp>")
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("serving may not include shadow", r.stdout)
        self.assertIn("core may not include monitoring", r.stdout)

    def test_a_compiled_part_is_checked_too(self):
        with open(self.tmp / "src/monitoring.cpp", "a", encoding="utf-8") as f:
            f.write("#include <switchyard/serving/deployment.hpp>\n")
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("src/monitoring.cpp:", r.stdout)
        self.assertIn("monitoring may not include serving", r.stdout)

    def test_an_unknown_folder_is_reported(self):
        (self.tmp / "include/switchyard/misc").mkdir()
        (self.tmp / "include/switchyard/misc/x.hpp").write_text("#pragma once\n")
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("'misc' is not a part", r.stdout)


if __name__ == "__main__":
    unittest.main()
