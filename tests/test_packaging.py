"""The wheel, installed the way users and the container image install it, runs every subcommand.

Built from a copy of the source (so the build leaves nothing in the worktree), installed non-editable
with `--no-deps` into a fresh virtualenv in tmp. The dependencies come from the shared venv's
site-packages through a .pth line (fast, no download of aiokafka/Faust/chdb); that directory's own
.pth files are not processed, so the shared venv's editable install of the repository is not on the
path, and PYTHONPATH is cleared: every trackwire module must come from the wheel, and the test
checks that it does. The build itself runs pip's isolated build (setuptools>=77 from the index or
pip's cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import click
import pytest

from trackwire.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
SOURCE_IGNORE = shutil.ignore_patterns(".git", ".venv", ".cache", "var", "build", "*.egg-info", "__pycache__",
                                       ".pytest_cache", ".hypothesis", "tests", "benchmarks")


def subcommands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += subcommands(command, (*prefix, name))
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a clean virtualenv holding the wheel built from this worktree."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(REPO, source, ignore=SOURCE_IGNORE)
    wheels = tmp / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300, env=clean_env())
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("trackwire-*.whl")

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "trackwire-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: never touch the shared venv's own trackwire (it is visible through the .pth).
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                              "--ignore-installed", "--no-warn-script-location", str(wheel)],
                             capture_output=True, text=True, timeout=300, env=clean_env())
    assert install.returncode == 0, install.stdout + install.stderr
    return env_dir / "bin"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TRACKWIRE_LOG_FORMAT"] = "json"
    return env


def run(bin_dir: Path, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "trackwire"), *args], capture_output=True, text=True, input=input,
                          timeout=timeout, env=clean_env(), cwd=bin_dir.parent)


def test_every_package_comes_from_the_wheel(installed):
    # An import here that falls back to the repository would hide a package missing from the wheel.
    packages = sorted(p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name not in ("tests", "benchmarks"))
    code = "import importlib, json, sys; print(json.dumps({n: importlib.import_module(n).__file__ for n in sys.argv[1:]}))"
    done = subprocess.run([str(installed / "python"), "-c", code, *packages], capture_output=True, text=True,
                          env=clean_env(), cwd=installed.parent, timeout=60)
    assert done.returncode == 0, done.stderr
    for name, path in json.loads(done.stdout).items():
        assert Path(path).is_relative_to(installed.parent), f"{name} imported from {path}, not from the wheel"


@pytest.mark.parametrize("command", subcommands(cli_main), ids=" ".join)
def test_every_subcommand_helps_from_the_wheel(installed, command):
    done = run(installed, *command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: trackwire {' '.join(command)}")


def test_decode_runs_from_the_wheel(installed):
    done = run(installed, "decode", input=(REPO / "examples" / "gotop.txt").read_text())
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["type"], r["protocol"]) for r in records] == [("event", "gotop"), ("position", "gotop"),
                                                              ("alert", "gotop")]
    assert records[2]["alarm"] == "sos"


def test_simulate_runs_from_the_wheel(installed):
    # Nothing listens on the port: the devices keep retrying for the second, then the summary says so.
    done = run(installed, "simulate", "--port", "1", "--devices", "3", "--duration", "1")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["devices"] == 3 and summary["connected"] == 0 and summary["frames_sent"] == 0
    assert summary["connect_failures"] >= 3
