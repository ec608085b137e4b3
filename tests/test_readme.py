"""The README's library example runs as written (from the repository root)."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Library\n\n```python\n(.*?)```", text, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code.replace('"./lib"', repr(str(tmp_path / "lib"))), "README", "exec"), {})
    finally:
        os.chdir(cwd)
    lines = capsys.readouterr().out.splitlines()
    assert "examples/photos/box.png" in lines[0] and " exact " in lines[0]
    assert "box_in_scene.png" in "\n".join(lines)
