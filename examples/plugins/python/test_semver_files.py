"""Unit tests of the plugin's logic under a plain CPython: `python3 -m unittest` in this folder."""

import os
import tempfile
import unittest
from unittest import mock

import semver_files as sf


class SemverTest(unittest.TestCase):
    def test_precedence_follows_semver_org(self):
        ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ]
        shuffled = list(reversed(ordered))
        self.assertEqual(sorted(shuffled, key=sf.semver_sort_key), ordered)

    def test_rejects_what_is_not_semver(self):
        for text in ("1.0", "01.0.0", "1.0.0.0", "v1.0.0", "1.0.0-", ""):
            self.assertIsNone(sf.parse_semver(text), text)


class OperationsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        for name in ("release-1.10.0.txt", "release-1.9.0.txt", "release-2.0.0-rc.1.txt",
                     "release-x.txt", "notes.md"):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(name)
        # The source validation wants /dirs/...; the logic itself works on any directory.
        self.source = sf.Source('{"dir": "/dirs/releases"}')
        self.source.dir = self.dir

    def tearDown(self):
        self.tmp.cleanup()

    def test_check_orders_by_semver_and_follows_from(self):
        self.assertEqual(sf.check(self.source, None), ["1.10.0"])
        self.assertEqual(sf.check(self.source, "1.9.0"), ["1.9.0", "1.10.0"])
        self.assertEqual(sf.check(self.source, "0.1.0"), ["1.10.0"])
        self.source.prereleases = True
        self.assertEqual(sf.check(self.source, "1.9.0"), ["1.9.0", "1.10.0", "2.0.0-rc.1"])

    def test_invalid_source_names_the_field(self):
        with self.assertRaises(sf.PluginError) as e:
            sf.Source('{"dir": "/etc"}')
        self.assertEqual(e.exception.kind, "invalid-config")
        self.assertIn("source.dir", e.exception.message)
        with self.assertRaises(sf.PluginError) as e:
            sf.Source('{"dir": "/dirs/x", "sufix": ".txt"}')
        self.assertIn("source.sufix", e.exception.message)

    def test_get_copies_and_a_missing_version_is_not_found(self):
        with tempfile.TemporaryDirectory() as out:
            version, facts = sf.get(self.source, "1.9.0", "{}", output=out)
            self.assertEqual(version, "1.9.0")
            with open(os.path.join(out, "file")) as f:
                self.assertEqual(f.read(), "release-1.9.0.txt")
            self.assertEqual(dict(facts)["file"], "release-1.9.0.txt")
        with self.assertRaises(sf.PluginError) as e:
            sf.get(self.source, "3.0.0", "{}")
        self.assertEqual(e.exception.kind, "not-found")

    def test_put_publishes_once_and_versions_are_immutable(self):
        inputs = tempfile.TemporaryDirectory()
        self.addCleanup(inputs.cleanup)
        os.makedirs(os.path.join(inputs.name, "build"))
        with open(os.path.join(inputs.name, "build", "app.txt"), "w") as f:
            f.write("new build")
        real = sf.input_file
        with mock.patch.object(
            sf, "input_file",
            lambda ref, what: real(ref, what).replace("/inputs", inputs.name, 1),
        ):
            params = '{"file": "build/app.txt", "version": "3.0.0"}'
            version, _ = sf.put(self.source, params)
            self.assertEqual(version, "3.0.0")
            self.assertEqual(sf.check(self.source, None), ["3.0.0"])
            sf.put(self.source, params)  # the same content again: a no-op
            with open(os.path.join(inputs.name, "build", "app.txt"), "w") as f:
                f.write("other build")
            with self.assertRaises(sf.PluginError) as e:
                sf.put(self.source, params)
            self.assertEqual(e.exception.kind, "failed")
            with self.assertRaises(sf.PluginError) as e:
                sf.put(self.source, '{"file": "../etc/passwd", "version": "1.0.0"}')
            self.assertEqual(e.exception.kind, "invalid-config")


if __name__ == "__main__":
    unittest.main()
