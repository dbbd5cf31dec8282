"""`bodega events`."""
from __future__ import annotations

import json



def lines(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_events_are_json_lines_with_a_cursor(run):
    run("container", "create", "a")
    run("container", "create", "b")
    events = lines(run("events", "--json", "--limit", "100"))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    cursor = events[-1]["seq"]
    run("container", "tag", "a", "x")
    later = lines(run("events", "--json", "--after", str(cursor)))
    assert later and all(e["seq"] > cursor for e in later)
    assert any(e["message"].endswith("container tag a +x") and e["level"] == "audit" for e in later)


def test_events_filters(run):
    a = json.loads(run("container", "create", "a", "--json").stdout)
    run("container", "create", "b")
    run("container", "delete", "a")
    by_container = lines(run("events", "--container", a["id"], "--json", "--limit", "100"))
    assert by_container and {e["context"]["container_id"] for e in by_container} == {a["id"]}
    audit = lines(run("events", "--level", "audit", "--json", "--since", "1h"))
    assert len(audit) == 3 and all(e["source"] == "user" for e in audit)
    text = run("events", "-n", "2").stdout.splitlines()
    assert len(text) == 2 and text[-1].split()[3:5] == ["info", "agent"]


def test_events_bad_input(run):
    assert "--since" in run("events", "--since", "someday", code=10).stderr
    run("events", "--container", "nope", code=43)
    run("events", "--task", "ffff", code=44)
