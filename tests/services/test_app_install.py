"""Install transactions: real apps from an archive and from their own installer, footprints
against the installer's own list, and every failure rolled back to the pre-install snapshot."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bodega import errors
from bodega.catalogue.models import AppStatus, TaskStatus
from bodega.storage import manifest as mf

from .real_apps import busybox_archive, pip_installer, record_of, tar_of

sys.path.insert(0, str(Path(__file__).parents[1]))
from subprocesses import bodega_cli, child_env, wait_for  # noqa: E402


def _root(b, name="dev") -> Path:
    return Path(b.containers.get(name).storage_path) / "root"


def _tree_root_hash(root: Path) -> str:
    return mf.build(root).root_hex


def _pre_root(b, task_result) -> str:
    return b.snapshots.get("dev", task_result["pre_snapshot_id"]).checksum_manifest


def test_a_real_app_installs_from_its_debian_archive_and_runs(b, tmp_path, home):
    b.containers.create("dev")
    app = b.apps.install("dev", busybox_archive(tmp_path), name="busybox", version="1.35",
                         entries=["busybox=bin/busybox"])
    assert app.status == AppStatus.READY and app.install_path == "apps/busybox"
    assert len(app.source_hash) == 64
    root = _root(b)
    assert (root / "apps/busybox/bin/busybox").read_bytes() == Path("/bin/busybox").read_bytes()
    done = bodega_cli(home, "run", "dev", "busybox", "--", "sh", "-c", "echo made by busybox > $HOME/note; "
                      "busybox echo hello from busybox")
    assert (done.returncode, done.stdout) == (0, "hello from busybox\n"), done.stderr
    assert (root / "home/note").read_text() == "made by busybox\n"  # what it writes lands inside
    assert [s.trigger.value for s in b.snapshots.list("dev")] == ["pre-install", "post-install"]


def test_a_real_app_installs_with_its_own_installer_and_its_footprint_is_the_installers_list(b, tmp_path, home):
    c = b.containers.create("dev", settings={"env": {"PYTHONPATH": "/container/local/lib/python3.11/dist-packages",
                                                     "PYTHONDONTWRITEBYTECODE": "1"}})
    app = b.apps.install("dev", pip_installer(tmp_path), name="pip", entries=["pip=local/bin/pip"])
    root = Path(c.storage_path) / "root"
    fp = b.apps.footprint("dev", "pip")
    files = {e.path.decode() for e in fp.entries if e.kind != "dir"}
    assert files == record_of(root) and len(files) > 100
    assert all(e.change == "added" for e in fp.entries)
    done = bodega_cli(home, "run", "dev", "pip", "--", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pip 23") and "/container/local/lib" in done.stdout
    install = b.tasks.get(b.apps.show("dev", "pip").tasks[0]["id"])
    pre_root = _pre_root(b, install.result)
    task = b.apps.uninstall("dev", app.id)
    assert task.status == TaskStatus.SUCCEEDED and task.result["kept"] == []
    assert _tree_root_hash(root) != pre_root  # `bodega run` made the app's home/ since: not the footprint
    (root / "home").rmdir()  # empty: pip wrote nothing there
    assert _tree_root_hash(root) == pre_root


def test_uninstall_gives_back_the_pre_install_root_hash(b, tmp_path):
    b.containers.create("dev")
    root = _root(b)
    (root / "etc").mkdir()
    (root / "etc/conf").write_text("original\n")
    (root / "etc/old").write_text("to be removed\n")
    installer = tmp_path / "setup.sh"
    installer.write_text("#!/bin/sh\nset -e\ncd \"$BODEGA_PREFIX\"\nmkdir -p opt/tool/bin\n"
                         "printf '#!/bin/sh\\necho tool\\n' > opt/tool/bin/tool\nchmod 755 opt/tool/bin/tool\n"
                         "echo changed >> etc/conf\nrm etc/old\n")
    installer.chmod(0o755)
    b.apps.install("dev", installer, name="tool", entries=["tool=opt/tool/bin/tool"])
    install = b.tasks.list(type="app.install")[0]
    fp = {e.path.decode(): e.change for e in b.apps.footprint("dev", "tool").entries}
    assert fp == {"opt": "added", "opt/tool": "added", "opt/tool/bin": "added", "opt/tool/bin/tool": "added",
                  "etc/conf": "changed", "etc/old": "removed"}
    b.apps.uninstall("dev", "tool")
    assert (root / "etc/conf").read_text() == "original\n" and (root / "etc/old").exists()
    assert _tree_root_hash(root) == _pre_root(b, install.result)
    assert b.apps.list("dev") == []


def test_uninstall_keeps_and_reports_files_changed_since_the_install(b, tmp_path):
    b.containers.create("dev")
    b.apps.install("dev", tar_of(tmp_path, {"bin/run": b"#!/bin/sh\necho 1\n", "conf.ini": b"a=1\n"}),
                   name="app", entries=["run=bin/run"])
    root = _root(b)
    (root / "apps/app/conf.ini").write_text("a=2  # mine\n")
    task = b.apps.uninstall("dev", "app")
    assert task.result["kept"] == ["apps/app/conf.ini"]
    assert (root / "apps/app/conf.ini").read_text() == "a=2  # mine\n"
    assert not (root / "apps/app/bin").exists()


def _failed_install_leaves_the_tree(b, do_install):
    root = _root(b)
    (root / "data").mkdir()
    (root / "data/keep").write_text("user data\n")
    before = _tree_root_hash(root)
    with pytest.raises(errors.BodegaError) as info:
        do_install()
    assert _tree_root_hash(root) == before  # byte-identical: the manifest root hash
    task = b.tasks.list(type="app.install")[0]
    assert task.status == TaskStatus.FAILED and task.result["rolled_back_to"] == task.result["pre_snapshot_id"]
    [app] = b.apps.list("dev")
    assert app.status == AppStatus.FAILED
    assert "rolled back" in str(info.value)
    return info.value


def test_a_failing_installer_leaves_the_container_byte_identical(b, tmp_path):
    b.containers.create("dev")
    installer = tmp_path / "broken.sh"
    installer.write_text("#!/bin/sh\nmkdir -p \"$BODEGA_PREFIX/opt/half\"\necho x > \"$BODEGA_PREFIX/opt/half/f\"\n"
                         "rm \"$BODEGA_PREFIX/data/keep\"\nexit 3\n")
    installer.chmod(0o755)
    exc = _failed_install_leaves_the_tree(b, lambda: b.apps.install("dev", installer, entries=["x=opt/half/f"]))
    assert isinstance(exc, errors.InstallFailed) and "exited with status 3" in str(exc) and exc.exit_code == 86


def test_an_installer_past_its_time_limit_is_killed_and_rolled_back(b, tmp_path):
    b.containers.create("dev")
    installer = tmp_path / "hang.sh"
    installer.write_text("#!/bin/sh\necho started > \"$BODEGA_PREFIX/started\"\nexec sleep 600\n")
    installer.chmod(0o755)
    started = time.monotonic()
    exc = _failed_install_leaves_the_tree(b, lambda: b.apps.install("dev", installer, entries=["x=started"],
                                                                     time_limit=1))
    assert "time limit of 1 s" in str(exc) and time.monotonic() - started < 60


def test_a_hostile_archive_is_refused_and_nothing_lands_outside(b, tmp_path):
    from storage.archive.hostile import Entry, write_tar

    b.containers.create("dev")
    outside = tmp_path / "outside"
    outside.mkdir()
    path = write_tar(tmp_path / "evil.tar", [Entry("ok", data=b"1"), Entry("lnk", "symlink", link="../../../../x"),
                                             Entry("../../escape", data=b"2")])
    exc = _failed_install_leaves_the_tree(b, lambda: b.apps.install("dev", path, entries=["x=ok"]))
    assert isinstance(exc, errors.UnsafeArchive) and exc.exit_code == 84
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape").exists()


def test_an_archive_for_another_platform_is_refused(b, tmp_path):
    b.containers.create("dev")
    pe = bytearray(512)
    pe[0:2] = b"MZ"
    pe[60:64] = (128).to_bytes(4, "little")
    pe[128:134] = b"PE\0\0" + (0x8664).to_bytes(2, "little")
    path = tar_of(tmp_path, {"app.exe": bytes(pe), "readme.txt": b"hi"})
    exc = _failed_install_leaves_the_tree(b, lambda: b.apps.install("dev", path, entries=["app=app.exe"]))
    assert isinstance(exc, errors.PlatformMismatch) and "windows-x64" in str(exc)


def test_bad_entry_points_and_taken_names_are_refused_before_anything_runs(b, tmp_path):
    b.containers.create("dev")
    path = tar_of(tmp_path, {"bin/run": b"#!/bin/sh\n"})
    for bad in ("x=/bin/sh", "x=../../../bin/sh", "x=bin/../../../etc/passwd", "noequals"):
        with pytest.raises(errors.InvalidInput):
            b.apps.install("dev", path, entries=[bad])
    assert b.tasks.list(type="app.install") == []
    b.apps.install("dev", path, name="app", entries=["run=bin/run"])
    with pytest.raises(errors.NameTaken):
        b.apps.install("dev", path, name="app", entries=["run=bin/run"])


def test_an_install_without_entry_points_fails_and_rolls_back(b, tmp_path):
    b.containers.create("dev")
    _failed_install_leaves_the_tree(b, lambda: b.apps.install("dev", tar_of(tmp_path, {"f": b"1"})))


def test_bodega_app_json_names_the_app_and_its_entry_points(b, tmp_path):
    import json

    b.containers.create("dev")
    meta = {"name": "Sample", "version": "2.1", "vendor": "ACME",
            "entry_points": [{"name": "sample", "command": "bin/sample", "args": ["--fast"]}]}
    path = tar_of(tmp_path, {"bodega-app.json": json.dumps(meta).encode(), "bin/sample": b"#!/bin/sh\necho $@\n"})
    app = b.apps.install("dev", path)
    assert (app.name, app.version, app.vendor, app.install_path) == ("Sample", "2.1", "ACME", "apps/Sample")
    assert app.entry_points == [{"name": "sample", "command": "bin/sample", "options": {"args": ["--fast"]}}]


def test_a_killed_bodega_mid_install_is_rolled_back_by_the_next_command(b, tmp_path, home):
    b.containers.create("dev")
    root = _root(b)
    before = _tree_root_hash(root)
    installer = tmp_path / "slow.sh"
    installer.write_text("#!/bin/sh\nmkdir -p \"$BODEGA_PREFIX/opt\"\n"
                         "for i in 1 2 3 4 5; do echo $i > \"$BODEGA_PREFIX/opt/f$i\"; done\n"
                         "touch \"$BODEGA_PREFIX/opt/gate\"\nexec sleep 600\n")
    installer.chmod(0o755)
    child = subprocess.Popen([sys.executable, "-m", "bodega", "app", "install", "dev", str(installer),
                              "--entry", "x=opt/f1"], env=child_env(home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    wait_for(lambda: (root / "opt/gate").exists(), what="the installer to write its files")
    assert (root / "opt/f5").read_text() == "5\n"  # the kill lands mid-install: files written, task running
    assert b.tasks.list(type="app.install")[0].status == TaskStatus.RUNNING
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    wait_for(lambda: subprocess.run(["pgrep", "-f", "exec sleep 600|sleep 600"], capture_output=True).returncode,
             what="the installer to die with its bodega")
    done = bodega_cli(home, "container", "list")  # the next command recovers
    assert done.returncode == 0, done.stderr
    assert _tree_root_hash(root) == before and not (root / "opt").exists()
    task = b.tasks.list(type="app.install")[0]
    assert task.status == TaskStatus.FAILED and task.result["reason"] == "interrupted"
    assert "rolled back to the pre-install snapshot" in task.error["message"]
    assert b.apps.list("dev")[0].status == AppStatus.FAILED


def test_cancel_mid_install_rolls_back(b, tmp_path):
    import threading

    b.containers.create("dev")
    root = _root(b)
    before = _tree_root_hash(root)
    installer = tmp_path / "wait.sh"
    installer.write_text("#!/bin/sh\ntouch \"$BODEGA_PREFIX/gate\"\nexec sleep 600\n")
    installer.chmod(0o755)

    def cancel_when_started() -> None:
        wait_for(lambda: (root / "gate").exists(), what="the installer to start")
        b.tasks.cancel(b.tasks.list(type="app.install")[0].id)

    t = threading.Thread(target=cancel_when_started)
    t.start()
    with pytest.raises(errors.Cancelled):
        b.apps.install("dev", installer, entries=["x=gate"])
    t.join()
    assert _tree_root_hash(root) == before
    assert b.tasks.list(type="app.install")[0].status == TaskStatus.CANCELLED
