"""docs/python.md runs as written: every ```python block, in order, in one
namespace, from the top of the source tree."""
import os
import re

from conftest import SOURCE_DIR


def test_python_md_runs_as_written(shared_data, cli, monkeypatch, capsys):
    text = (SOURCE_DIR / "docs" / "python.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 5
    monkeypatch.chdir(SOURCE_DIR)
    ns = {"__name__": "__doc__"}
    for i, code in enumerate(blocks):
        exec(compile(code, "docs/python.md block %d" % (i + 1), "exec"), ns)
    out = capsys.readouterr().out
    # what the walk-through claims it shows
    assert "<knotmap.Recording npy: 10 frames of 64 x 27" in out
    assert "KNOT_FOUND at" in out and "KM_ERR_PARSE - " in out
    if os.path.exists(os.environ.get("KNOTMAP_CLI", "build/cli/knotmap")):
        assert "analysed 1000 frames" in out
