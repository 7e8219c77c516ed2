"""Shared fixtures for the knotmap Python tests: the CLI to compare with, the
real files in ../shared/data, and a scratch directory."""
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get(
    "KNOTMAP_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))


def _cli_path():
    env = os.environ.get("KNOTMAP_CLI")
    if env:
        return pathlib.Path(env)
    return SOURCE_DIR / "build" / "cli" / "knotmap"


@pytest.fixture(scope="session")
def cli():
    """Runs the knotmap command: cli(args...) -> CompletedProcess (text)."""
    path = _cli_path()
    if not path.exists():
        pytest.fail("the knotmap command is not built at %s (set KNOTMAP_CLI)" % path)
    env = dict(os.environ)
    env.setdefault("KNOTMAP_SCENARIO_DIR", str(SOURCE_DIR / "hardware" / "sim" / "scenarios"))

    def run(*args, check=True):
        r = subprocess.run([str(path)] + [str(a) for a in args], capture_output=True,
                           text=True, env=env, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError("knotmap %s failed (%d): %s" % (
                " ".join(map(str, args)), r.returncode, r.stderr))
        return r
    return run


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data next to the source tree: skip when missing, fail in CI."""
    d = SOURCE_DIR.parent / "shared" / "data"
    if not (d / "README.md").exists():
        msg = "real mat files not found at %s (see the project's README)" % d
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return d
