"""`bodega doctor`: the platform, the native build, the home and whether it clones."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bodega import __version__

from subprocesses import SRC  # the bodega this run imports: installed in CI, src/ in a checkout


def doctor(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("BODEGA_HOME", None)
    if home is not None:
        env["BODEGA_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "bodega", "doctor", *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL)


def test_json_report_on_a_cow_home(cow_dir):
    done = doctor("--json", home=cow_dir / "home")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["bodega"] == __version__
    assert r["python"] == f"{platform.python_implementation()} {platform.python_version()}"
    assert platform.system() in r["platform"]
    assert r["native"]["built"] and {"ficlone", "statx"} <= set(r["native"]["features"])
    home = r["home"]
    assert home["path"] == str(cow_dir / "home") and home["exists"] is False
    assert home["probed_at"] == str(cow_dir)
    assert (home["filesystem"], home["cow_clone"]) == ("xfs", True)
    assert os.listdir(cow_dir) == []  # the trial clone cleaned up


def test_text_report_on_ext4(tmp_path):
    done = doctor("--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert f"bodega      {__version__}" in text
    assert f"home        {tmp_path}\n" in text
    assert "filesystem  ext4" in text
    assert "cow clone   no:" in text


def test_default_home(tmp_path):
    env_home = tmp_path / "fake-home"
    env_home.mkdir()
    env = dict(os.environ, PYTHONPATH=str(SRC), HOME=str(env_home))
    env.pop("BODEGA_HOME", None)
    env.pop("XDG_DATA_HOME", None)
    done = subprocess.run([sys.executable, "-m", "bodega", "doctor", "--json"], capture_output=True,
                          text=True, env=env, check=True)
    assert json.loads(done.stdout)["home"]["path"] == str(env_home / ".local" / "share" / "bodega")


def test_it_names_the_binding_in_use(tmp_path, monkeypatch):
    shown = {}
    for backend in ("cython", "cffi"):
        monkeypatch.setenv("BODEGA_BACKEND", backend)
        done = doctor("--json", home=tmp_path / "home")
        assert done.returncode == 0, done.stderr
        shown[backend] = json.loads(done.stdout)["native"]["backend"]
        text = doctor(home=tmp_path / "home").stdout
        assert f"{backend} binding" in text
    assert shown == {"cython": "cython", "cffi": "cffi"}


def test_an_unknown_binding_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("BODEGA_BACKEND", "ctypes")
    done = doctor("--json", home=tmp_path / "home")
    assert json.loads(done.stdout)["native"]["built"] is False
    assert "BODEGA_BACKEND must be one of cython, cffi, not 'ctypes'" in json.loads(done.stdout)["native"]["error"]


def test_an_unknown_binding_stops_other_commands_with_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SRC), BODEGA_BACKEND="ctypes", BODEGA_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "bodega", "fs", "manifest", str(tmp_path)], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 10
    assert done.stderr.strip().splitlines() == ["bodega: error: BODEGA_BACKEND must be one of cython, cffi, not 'ctypes'"]
