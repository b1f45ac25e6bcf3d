"""The README's Quick start runs as written: its code block, in a fresh process, in a
fresh folder that holds only a `vocab.txt` and a copy of all-MiniLM-L6-v2 under that
name, offline; no warning on the way."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from tests.test_case import MINILM_DIR, PROJECT_ROOT, TestCase, requires_shared_data


def quick_start_code():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@requires_shared_data
class QuickStartTest(TestCase):
    def test_the_readme_quick_start_runs_as_written(self):
        code = quick_start_code()
        self.assertIn("from_preset", code)
        with tempfile.TemporaryDirectory() as folder:
            shutil.copytree(MINILM_DIR, os.path.join(folder, "all-MiniLM-L6-v2"))
            shutil.copyfile(MINILM_DIR / "vocab.txt", os.path.join(folder, "vocab.txt"))
            env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), KERAS_BERT_OFFLINE="1")
            run = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=900)
            self.assertEqual(run.returncode, 0, run.stderr[-4000:])
            self.assertTrue(os.path.isfile(os.path.join(folder, "sst2.keras")))
        warnings = [line for line in run.stderr.splitlines() if "Warning:" in line]  # as a user sees them
        self.assertEqual(warnings, [])
        # numpy pads a row to its widest number: "[[0.00317533 0.0206163 ]]"
        logits = re.findall(r"\[\[\s*(-?[\d.e+-]+)\s+(-?[\d.e+-]+)\s*\]\]", run.stdout)
        self.assertEqual(len(logits), 3, run.stdout)  # predict, reloaded predict, the pair
        self.assertEqual(logits[0], logits[1])  # the reloaded model predicts the same
