"""`bodega run`: the isolation contract, each part shown to fail without the isolation."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bodega import errors
from bodega.catalogue.models import ContainerStatus

from .real_apps import busybox_archive

sys.path.insert(0, str(Path(__file__).parents[1]))
from subprocesses import bodega_cli, child_env, wait_for  # noqa: E402


@pytest.fixture
def busybox(b, tmp_path):
    """Installs busybox into a container made with settings; returns (container root, sh entry)."""
    archive = busybox_archive(tmp_path)

    def make(name: str = "dev", **settings):
        c = b.containers.create(name, settings=settings)
        b.apps.install(name, archive, name="busybox", entries=["sh=bin/busybox sh"])
        return Path(c.storage_path) / "root"
    return make


def _sh(home, script: str, container: str = "dev"):
    return bodega_cli(home, "run", container, "sh", "--", "-c", script)


def test_the_host_home_cannot_be_read(busybox, home):
    busybox()
    secret = Path.home() / f".bodega-test-secret-{secrets.token_hex(4)}"
    secret.write_text("host secret\n")
    try:
        script = f"cat {secret}"
        host = subprocess.run(["/bin/busybox", "sh", "-c", script], capture_output=True, text=True)
        assert host.stdout == "host secret\n"  # the same command, unisolated, reads it
        done = _sh(home, script)
        assert done.returncode != 0 and "host secret" not in done.stdout
        assert _sh(home, f"ls {Path.home()}").returncode != 0
    finally:
        secret.unlink()


def test_no_file_can_be_created_outside_the_container(busybox, home, tmp_path):
    root = busybox()
    name = f"bodega-escape-{secrets.token_hex(4)}"
    targets = [f"/tmp/{name}", f"/usr/{name}", f"/etc/{name}", f"{tmp_path}/{name}", f"/container/../{name}"]
    script = "; ".join(f"echo x > {t}" for t in targets) + f"; echo inside > /container/{name}"
    done = _sh(home, script)
    assert done.returncode == 0, done.stderr  # the last write, inside, worked
    for t in targets:
        assert not os.path.exists(t), t
    assert not Path("/", name).exists()
    assert (root / name).read_text() == "inside\n"


def _loopback_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    hits: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello from the host\n")
                hits.append(b"hit")
    threading.Thread(target=serve, daemon=True).start()
    return srv, hits


def test_a_host_loopback_server_is_unreachable_when_the_network_is_denied(busybox, home):
    busybox("denied", network={"default": "deny"})
    busybox("open", network={"default": "allow"})
    srv, hits = _loopback_server()
    port = srv.getsockname()[1]
    try:
        script = f"busybox nc -w 3 127.0.0.1 {port} </dev/null"
        allowed = _sh(home, script, "open")
        assert allowed.stdout == "hello from the host\n" and len(hits) == 1  # reachable with the host network
        denied = _sh(home, script, "denied")
        assert denied.returncode != 0 and denied.stdout == "" and len(hits) == 1
    finally:
        srv.close()


def test_no_network_settings_means_no_network(busybox, home):
    busybox()
    srv, hits = _loopback_server()
    try:
        assert _sh(home, f"busybox nc -w 3 127.0.0.1 {srv.getsockname()[1]} </dev/null").returncode != 0
        assert hits == []
    finally:
        srv.close()


def test_a_host_port_rule_is_refused_naming_it_never_ignored(busybox, b, home):
    busybox(network={"default": "deny", "rules": [{"action": "allow", "host": "example.org", "port": 443}]})
    with pytest.raises(errors.IsolationUnavailable, match=r"rule 1 \(allow example.org:443\)"):
        b.apps.run("dev", "sh", ["-c", "true"])
    done = _sh(home, "true")
    assert done.returncode == 88 and "rule 1" in done.stderr


def test_a_memory_hog_above_the_limit_is_stopped(busybox, b, tmp_path):
    root = busybox(memory_limit_mb=64)
    (root / "apps/busybox/hog").write_text("#!/usr/bin/python3\nb = bytearray(400 << 20)\nprint('survived')\n")
    (root / "apps/busybox/hog").chmod(0o755)
    b.apps.set_entry("dev", "busybox", "hog=hog")
    result = b.apps.run("dev", "hog")
    assert result.memory_killed and result.exit_code != 0 and result.memory_by in ("cgroup-v1", "cgroup-v2")
    assert result.peak_memory <= (64 << 20) + (4 << 20)
    health = {h.entry: h for h in b.apps.show("dev", "busybox").health}
    assert (health["hog"].crashes, health["hog"].runs) == (1, 1)
    b.containers.edit("dev", settings={"memory_limit_mb": 1024})
    assert b.apps.run("dev", "hog").exit_code == 0  # the same app under a higher limit lives


def test_exit_code_stdio_env_and_health(busybox, b, home):
    busybox(env={"GREETING": "hola"})
    done = subprocess.run([sys.executable, "-m", "bodega", "run", "dev", "busybox:sh", "--", "-c",
                           "read line; echo \"$GREETING $line from $(pwd)\"; echo err >&2; exit 7"],
                          input="stdin\n", env=child_env(home), capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (7, "hola stdin from /container/apps/busybox\n", "err\n")
    [health] = b.apps.show("dev", "busybox").health
    assert (health.runs, health.crashes, health.last_exit_code, health.running) == (1, 0, 7, 0)
    assert health.last_run_by == b.user.email and health.last_run_seconds is not None


def test_the_container_is_running_while_an_entry_runs(busybox, b, home, tmp_path):
    root = busybox()
    child = subprocess.Popen([sys.executable, "-m", "bodega", "run", "dev", "sh", "--", "-c",
                              "touch /container/started; while [ ! -e /container/stop ]; do sleep 0.05; done"],
                             env=child_env(home))
    try:
        wait_for(lambda: (root / "started").exists(), what="the app to start")
        assert b.containers.get("dev").status == ContainerStatus.RUNNING
        assert b.apps.show("dev", "busybox").health[0].running == 1
        with pytest.raises(errors.WrongStatus):
            b.apps.install("dev", tmp_path / "busybox-static.tar.xz", name="again", entries=["x=bin/busybox"])
    finally:
        (root / "stop").touch()
        child.wait(timeout=60)
    assert b.containers.get("dev").status == ContainerStatus.READY


def test_a_run_whose_bodega_was_killed_is_closed_as_a_crash(busybox, b, home):
    import signal

    root = busybox()
    child = subprocess.Popen([sys.executable, "-m", "bodega", "run", "dev", "sh", "--", "-c",
                              "touch /container/started; exec sleep 600"], env=child_env(home))
    wait_for(lambda: (root / "started").exists(), what="the app to start")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert bodega_cli(home, "container", "list").returncode == 0  # the next command recovers
    assert b.containers.get("dev").status == ContainerStatus.READY
    [health] = b.apps.show("dev", "busybox").health
    assert (health.runs, health.crashes, health.running) == (1, 1, 0)


def test_run_bad_input_is_one_line_and_its_exit_code(busybox, b, home):
    busybox()
    for args, code in ((["run", "dev", "nope"], 89), (["run", "nocontainer", "sh"], 43),
                       (["run", "dev", "ghost:sh"], 89)):
        done = bodega_cli(home, *args)
        assert done.returncode == code and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    b.apps.disable("dev", "busybox")
    done = bodega_cli(home, "run", "dev", "sh")
    assert done.returncode == 48 and "disabled" in done.stderr
