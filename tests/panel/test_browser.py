"""The panel in a real browser (Debian's chromium, headless, driven by Playwright).

Sign in with a TOTP code, create a container, take a snapshot and watch its progress bar
finish live (events over SSE, no reload), restore it, and as a viewer try an operator action
and see it refused.  Screenshots of the main pages are kept (the run prints where).
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import need
from served import PASSWORD, as_user, enrol

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def run_agent(server) -> None:
    """Runs the queued tasks (the server has no agent of its own here, so the test decides when)."""
    as_user(server, "owner@example.org").tasks.run_agent(until_idle=True)


def test_sign_in_with_totp_snapshot_restore_and_a_refused_viewer(idle_server, browser, screenshots):
    from playwright.sync_api import expect

    server = idle_server
    totp = enrol(server, "op@example.org")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Sign in: password, then a TOTP code.
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login?next=/")
    page.screenshot(path=screenshots / "01-sign-in.png")
    page.get_by_label("Email").fill("op@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/login/mfa")
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the enrolment spent the current code
    page.screenshot(path=screenshots / "02-second-factor.png")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()

    # Create a container.
    page.get_by_label("Name").fill("dev")
    page.get_by_label("Tags").fill("work")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="dev")).to_be_visible()
    run_agent(server)
    page.reload()
    container = as_user(server, "op@example.org").containers.get("dev")
    root = Path(container.storage_path) / "root"
    for i in range(200):
        (root / f"file-{i:03}.txt").write_text(f"payload {i}\n" * 50)

    # Take a snapshot and watch its progress bar finish, live.
    page.get_by_label("Snapshot label").fill("first")
    page.get_by_role("button", name="Take snapshot").click()
    row = page.locator("tr[data-task]").filter(has_text="snapshot.create")
    expect(row.locator(".status")).to_have_text("queued")
    expect(row.locator("progress")).to_have_attribute("value", "0")
    page.evaluate("window.__stillTheSamePage = true")
    page.screenshot(path=screenshots / "03-snapshot-queued.png")
    agent = threading.Thread(target=run_agent, args=(server,))
    agent.start()
    expect(row.locator(".status")).to_have_text("succeeded")
    expect(row.locator("progress")).to_have_attribute("value", "100")
    assert page.evaluate("window.__stillTheSamePage === true"), "the bar moved by reloading, not live"
    agent.join()
    page.screenshot(path=screenshots / "04-snapshot-done.png")
    expect(page.locator("ul.tree li[data-snapshot]")).to_have_count(1)  # the page reloads itself once done
    expect(page.locator("ul.tree")).to_contain_text("first")
    page.screenshot(path=screenshots / "05-container.png", full_page=True)

    # Change the tree, then restore the snapshot.
    (root / "file-000.txt").write_text("changed\n")
    (root / "new.txt").write_text("new\n")
    page.reload()
    expect(page.locator("pre.diff")).to_contain_text("new.txt")
    page.locator("ul.tree li[data-snapshot]").get_by_role("button", name="Restore").first.click()
    restore = page.locator("tr[data-task]").filter(has_text="snapshot.restore")
    expect(restore.locator(".status")).to_have_text("queued")
    threading.Thread(target=run_agent, args=(server,)).start()
    expect(restore.locator(".status")).to_have_text("succeeded")
    assert (root / "file-000.txt").read_text() == "payload 0\n" * 50 and not (root / "new.txt").exists()
    page.goto(f"{server.url}/tasks")
    page.screenshot(path=screenshots / "06-tasks.png")
    page.goto(f"{server.url}/events")
    page.screenshot(path=screenshots / "07-events.png")
    assert errors == []

    # A viewer tries an operator action (the form is not offered: they submit one by hand) and is refused.
    as_user(server, "op@example.org").shares.share("dev", "vic@example.org", "viewer")
    viewer = browser.new_page(viewport={"width": 1366, "height": 900})
    viewer.goto(f"{server.url}/login")
    viewer.get_by_label("Email").fill("vic@example.org")
    viewer.get_by_label("Password").fill(PASSWORD)
    viewer.get_by_role("button", name="Sign in").click()
    viewer.get_by_role("link", name="dev").click()
    expect(viewer.get_by_role("heading", name="dev")).to_be_visible()
    expect(viewer.get_by_role("button", name="Take snapshot")).to_have_count(0)
    snapshots_before = len(as_user(server, "op@example.org").snapshots.list("dev"))
    viewer.evaluate("""() => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = location.pathname + "/snapshots";
        const csrf = document.querySelector("input[name=csrf]").cloneNode();
        form.appendChild(csrf);
        document.body.appendChild(form);
        form.submit();
    }""")
    expect(viewer.get_by_role("heading", name="403: Forbidden")).to_be_visible()
    expect(viewer.get_by_role("alert")).to_contain_text("vic@example.org is a viewer: this needs an operator")
    viewer.screenshot(path=screenshots / "08-viewer-refused.png")
    assert len(as_user(server, "op@example.org").snapshots.list("dev")) == snapshots_before
    assert any("vic@example.org: refused POST" in e.message
               for e in server.bodega.events.list(levels=["audit"], limit=5))

    # Owners' pages.
    owner = browser.new_page(viewport={"width": 1366, "height": 900})
    owner.goto(f"{server.url}/login")
    owner.get_by_label("Email").fill("owner@example.org")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Sign in").click()
    expect(owner.get_by_role("heading", name="Containers")).to_be_visible()
    owner.screenshot(path=screenshots / "09-containers.png")
    for name, path in (("10-users", "/users"), ("11-sessions", "/sessions"), ("12-tokens", "/tokens")):
        owner.goto(f"{server.url}{path}")
        owner.screenshot(path=screenshots / f"{name}.png", full_page=True)
    expect(owner.locator("body")).to_contain_text("op@example.org")
