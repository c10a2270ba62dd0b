"""The documentation keeps up with the code: every configuration key, every error code the
core can send, and every admin command are documented."""

import os
import re
import subprocess
import unittest

from harness import SOURCE_DIR, YKTD, Gateway


def read(*parts):
    with open(os.path.join(SOURCE_DIR, *parts), encoding="utf-8") as f:
        return f.read()


def sources():
    for root, _, files in os.walk(os.path.join(SOURCE_DIR, "core", "src")):
        for name in files:
            if name.endswith(".c"):
                yield os.path.join(root, name)


class DocsTest(unittest.TestCase):
    def test_every_config_key_is_documented(self):
        ref = subprocess.run([YKTD, "--print-config"], capture_output=True, text=True,
                             check=True).stdout
        doc = read("docs", "configuration.md")
        section = None
        keys = []
        for line in ref.splitlines():
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                section = m.group(1)
                self.assertTrue("## [%s]" % section in doc,
                                "[%s] is not in docs/configuration.md" % section)
                continue
            m = re.match(r"^(\w+) = ", line)
            if m:
                keys.append((section, m.group(1)))
                self.assertTrue(re.search(r"## \[%s\][\s\S]*?\| `%s` \|" % (section, m.group(1)),
                                          doc),
                                 "[%s] %s is not in docs/configuration.md" % (section,
                                                                               m.group(1)))
        self.assertGreater(len(keys), 20)

    def test_every_config_field_has_a_key_and_every_documented_key_exists(self):
        # A field of ykt_config without its row in config.c's key table keeps a zero value
        # nobody can set — which once made the retention of request outcomes zero.
        with open(os.path.join(SOURCE_DIR, "core", "src", "config.h"), encoding="utf-8") as f:
            header = f.read()
        # only ykt_config's own fields: [plugin.NAME] sections are free-form (ykt_plugin_conf)
        body = header[header.index("typedef struct ykt_config {"):header.index("} ykt_config;")]
        fields = [f for f in re.findall(r"^\s+(?:int64_t|bool|int|char) (\w+)", body, re.M)
                  if f != "nplugins"]
        with open(os.path.join(SOURCE_DIR, "core", "src", "config.c"), encoding="utf-8") as f:
            table = f.read()
        for field in fields:
            self.assertTrue(re.search(r"(?:OFF|STR)\(%s\)" % field, table),
                            "ykt_config.%s has no key in config.c" % field)
        ref = subprocess.run([YKTD, "--print-config"], capture_output=True, text=True,
                             check=True).stdout
        real, section = set(), None
        for line in ref.splitlines():
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                section = m.group(1)
            m = re.match(r"^(\w+) = ", line)
            if m:
                real.add((section, m.group(1)))
        doc = read("docs", "configuration.md")
        section = None
        for line in doc.splitlines():
            m = re.match(r"^## \[([\w.]+)\]", line)
            if m:
                # [plugin.NAME] keys are the plugins' own, not yktd's
                section = m.group(1) if "." not in m.group(1) else None
            m = re.match(r"^\| `(\w+)` \|", line)
            if m and section:
                self.assertIn((section, m.group(1)), real,
                              "docs/configuration.md documents [%s] %s, which yktd does not know"
                              % (section, m.group(1)))

    def test_every_error_code_is_documented(self):
        doc = read("docs", "protocol.md")
        codes = set()
        for path in sources():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # ykt_reply_error(req, "CODE", ...), refuse(no, "CODE", ...),
            # refuse_use(req, card, "CODE", ...) and *code = "CODE" in the issuance paths
            codes.update(re.findall(
                r'(?:refuse\w*|ykt_reply_error)\(\s*[\w.>-]+,\s*(?:[\w.>-]+,\s*)?"([A-Z][A-Z_]{2,})"',
                text))
            codes.update(re.findall(r'\*code = "([A-Z][A-Z_]{2,})"', text))
            codes.update(re.findall(r'"-([A-Z_]{3,}) ', text))
        self.assertIn("NOAUTH", codes)
        for code in sorted(codes):
            self.assertTrue("`%s`" % code in doc, "error code %s is not in docs/protocol.md" % code)

    def test_every_terminal_verb_is_documented(self):
        doc = read("docs", "protocol.md")
        verbs = set()
        for path in sources():
            with open(path, encoding="utf-8") as f:
                verbs.update(re.findall(r'ykt_verbs_register\(\s*\w+,\s*"([A-Z][A-Z._]*)"',
                                        f.read()))
        self.assertIn("PAY", verbs)
        for verb in sorted(verbs):
            self.assertTrue(re.search(r"^### %s\b" % re.escape(verb), doc, re.M),
                            "verb %s has no section in docs/protocol.md" % verb)

    def test_every_admin_command_is_documented(self):
        gw = Gateway()
        self.addCleanup(gw.cleanup)
        doc = read("docs", "protocol.md")
        for row in gw.ctl("help"):
            words = row["command"].split()
            name = " ".join(w for w in words[:2] if re.match(r"^[a-z-]+$", w))
            self.assertTrue("`%s" % name in doc, "admin command '%s' is not in docs/protocol.md"
                          % name)


class PluginDocsTest(unittest.TestCase):
    """Each subsystem plugin (plugins/NAME/) has docs/plugins/NAME.md naming every verb (as a
    ### section), every error code it replies, every option it reads and every admin command
    it registers."""

    def test_every_plugin_is_documented(self):
        root = os.path.join(SOURCE_DIR, "plugins")
        for name in sorted(os.listdir(root)):
            src_dir = os.path.join(root, name)
            if not os.path.isdir(src_dir):
                continue
            with self.subTest(plugin=name):
                doc_path = os.path.join(SOURCE_DIR, "docs", "plugins", name + ".md")
                self.assertTrue(os.path.exists(doc_path), "docs/plugins/%s.md is missing" % name)
                doc = read("docs", "plugins", name + ".md")
                protocol = read("docs", "protocol.md")
                text = ""
                for f in sorted(os.listdir(src_dir)):
                    if f.endswith((".c", ".h")):
                        with open(os.path.join(src_dir, f), encoding="utf-8") as fh:
                            text += fh.read()
                for verb in re.findall(r'verb_register\(\s*[\w>-]+,\s*"([A-Z][A-Z0-9._]*)"', text):
                    self.assertTrue(re.search(r"^### %s\b" % re.escape(verb), doc, re.M),
                                    "verb %s has no section in docs/plugins/%s.md" % (verb, name))
                for code in set(re.findall(r'reply_error\(\s*\w+,\s*"([A-Z][A-Z_]{2,})"', text)):
                    self.assertTrue("`%s`" % code in doc or "`%s`" % code in protocol,
                                    "error code %s of plugin %s is not documented" % (code, name))
                for key in set(re.findall(r'option\(\s*\w+,\s*"([a-z_]+)"', text)):
                    self.assertIn("`%s`" % key, doc, "option %s of plugin %s is not documented"
                                  % (key, name))
                for group, cmd in re.findall(
                        r'admin_register\(\s*\w+,\s*"([a-z-]+)",\s*"([a-z-]+)"', text):
                    self.assertIn("`%s %s" % (group, cmd), doc,
                                  "admin command %s %s of plugin %s is not documented"
                                  % (group, cmd, name))


if __name__ == "__main__":
    unittest.main()
