"""Notification sinks (``[notify.<name>]``): ``check`` tells a real local HTTP server and a real
argv command when alerts open, escalate and clear — once per event, retried with backoff when
the endpoint fails, bounded when it hangs, and never failing the check."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console.governance import notify
from console.workspace import load_dir

FAST = 'timeout = "300ms"\nbackoff = "10ms"\n'


class Endpoint:
    """A real HTTP server on 127.0.0.1:<free port> recording every POST; the first ``fail``
    requests get HTTP 500; with ``hang`` it never answers (until closed)."""

    def __init__(self, fail: int = 0, hang: bool = False):
        self.bodies: list[dict] = []
        self.requests = 0
        self.fail = fail
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                outer.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hang:
                    outer.release.wait(5)
                    return
                if outer.requests <= outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    made = []

    def make(**kw) -> Endpoint:
        made.append(Endpoint(**kw))
        return made[-1]
    yield make
    for e in made:
        e.close()


def check(ws: Path, expect: int = 1) -> tuple[dict, str]:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--workspace", str(ws), "--format", "json"])
    assert code == expect, err.getvalue()
    return json.loads(out.getvalue()), err.getvalue()


def configure(ws: Path, toml: str) -> None:
    (ws / "console.toml").write_text((ws / "console.toml").read_text() + "\n" + toml + "\n")


def test_webhook_pages_once_per_event_escalates_and_clears(sample_ws: Path, endpoint) -> None:
    hook = endpoint()
    base = (sample_ws / "console.toml").read_text()
    configure(sample_ws, f'[alerts]\nbudget_critical = 10.0\n\n[notify.pager]\nwebhook = "{hook.url}"\n{FAST}')
    rep, err = check(sample_ws)
    assert err == "" or "notify" not in err
    opened = {b["alert"]["id"]: b for b in hook.bodies}
    assert set(opened) == {a["id"] for a in rep["alerts"]} and {b["event"] for b in hook.bodies} == {"open"}
    budget = next(a for a in rep["alerts"] if a["kind"] == "budget")
    assert opened[budget["id"]]["alert"]["severity"] == "warning" and opened[budget["id"]]["sink"] == "pager"
    assert all(n["delivered"] and n["event"] == "open" for n in rep["notifications"])

    again, _ = check(sample_ws)  # the same alerts: nobody is paged twice
    assert again["notifications"] == [] and len(hook.bodies) == len(opened)

    (sample_ws / "console.toml").write_text(base + f'\n[notify.pager]\nwebhook = "{hook.url}"\n{FAST}')
    rose, _ = check(sample_ws)  # budget critical now: one escalation
    assert [(n["event"], n["id"]) for n in rose["notifications"]] == [("escalate", budget["id"])]
    last = hook.bodies[-1]
    assert (last["event"], last["previous_severity"], last["alert"]["severity"]) == ("escalate", "warning", "critical")

    configure(sample_ws, "[alerts]\nslices = false")  # credit-risk's slice alert clears
    cleared, _ = check(sample_ws)
    assert [n["event"] for n in cleared["notifications"]] == ["clear"]
    assert hook.bodies[-1]["event"] == "clear" and hook.bodies[-1]["alert"]["kind"] == "slice"
    assert check(sample_ws)[0]["notifications"] == []
    sent = json.loads((sample_ws / ".console" / "alerts" / "notified.json").read_text())
    assert set(sent["pager"]) == {a["id"] for a in cleared["alerts"]}


def test_a_failing_endpoint_is_retried_with_backoff(sample_ws: Path, endpoint) -> None:
    ws = load_dir(sample_ws)
    flaky = endpoint(fail=2)
    sink = notify.Sink("flaky", None, flaky.url, notify.EVENTS, timeout=1.0, attempts=3, backoff=0.01)
    started = time.monotonic()
    assert notify.deliver(ws, sink, {"event": "open", "alert": {"id": "x"}}) is None
    assert flaky.requests == 3 and len(flaky.bodies) == 1 and time.monotonic() - started < 2

    down = endpoint(fail=100)
    sink = notify.Sink("down", None, down.url, notify.EVENTS, timeout=1.0, attempts=3, backoff=0.01)
    assert notify.deliver(ws, sink, {"event": "open", "alert": {"id": "x"}}) == "HTTP 500 (after 3 attempts)"
    assert down.requests == 3


def test_a_failed_send_is_a_warning_and_is_sent_by_the_next_check(sample_ws: Path, endpoint) -> None:
    down = endpoint(fail=10_000)
    configure(sample_ws, f'[notify.pager]\nwebhook = "{down.url}"\nattempts = 2\n{FAST}')
    rep, err = check(sample_ws)  # exit 1 for the alerts, as without sinks: never a crash
    lines = [x for x in err.splitlines() if "notify pager" in x]
    assert len(lines) == 1 and "HTTP 500 (after 2 attempts)" in lines[0] and "next check tries again" in lines[0]
    assert down.requests == 2  # after one failure the sink gets nothing more this check
    assert rep["notifications"][0]["delivered"] is False
    assert all("not attempted" in n["error"] for n in rep["notifications"][1:])
    down.fail = 0
    rep, err = check(sample_ws)
    assert "notify" not in err and {b["event"] for b in down.bodies} == {"open"}
    assert len(down.bodies) == len(rep["alerts"]) and all(n["delivered"] for n in rep["notifications"])


def test_a_hanging_endpoint_is_bounded_by_the_timeout(sample_ws: Path, endpoint) -> None:
    ws = load_dir(sample_ws)
    hung = endpoint(hang=True)
    sink = notify.Sink("hung", None, hung.url, notify.EVENTS, timeout=0.2, attempts=2, backoff=0.01)
    started = time.monotonic()
    why = notify.deliver(ws, sink, {"event": "open", "alert": {"id": "x"}})
    took = time.monotonic() - started
    assert why == "no answer within 0.2s (after 2 attempts)" and took < 1.5, took
    assert hung.requests == 2


def test_a_command_sink_gets_the_event_on_stdin_and_in_its_environment(sample_ws: Path, tmp_path: Path) -> None:
    script = sample_ws / "hooks" / "record_event.py"
    script.parent.mkdir(exist_ok=True)
    out = tmp_path / "events.jsonl"
    script.write_text(
        "import json, os, sys\n"
        "event = json.load(sys.stdin)\n"
        "event['env'] = {k: v for k, v in os.environ.items() if k.startswith('MLOPS_')}\n"
        f"open({str(out)!r}, 'a').write(json.dumps(event) + '\\n')\n"
    )
    script.chmod(0o644)
    configure(sample_ws, '[notify.script]\ncommand = ["python", "hooks/record_event.py"]\nevents = ["open"]\n' + FAST)
    rep, err = check(sample_ws)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == len(rep["alerts"]) and "notify" not in err
    first = next(g for g in got if g["alert"]["kind"] == "drift")
    assert first["env"]["MLOPS_EVENT"] == "open" and first["env"]["MLOPS_ALERT_ID"] == first["alert"]["id"]
    assert first["env"]["MLOPS_MODEL"] == "credit-risk" and first["env"]["MLOPS_SEVERITY"] == "critical"
    check(sample_ws)
    assert len(out.read_text().splitlines()) == len(got)  # paged once


def test_a_failing_or_hanging_command_and_an_untrusted_one(sample_ws: Path) -> None:
    ws = load_dir(sample_ws)
    bad = notify.Sink("bad", (sys.executable, "-c", "import sys; sys.stderr.write('no route\\n'); sys.exit(3)"),
                      None, notify.EVENTS, timeout=2.0, attempts=1, backoff=0.01)
    assert notify.deliver(ws, bad, {"event": "open", "alert": {"id": "x"}}) == "exit 3: no route (after 1 attempt)"
    slow = notify.Sink("slow", (sys.executable, "-c", "import time; time.sleep(30)"), None, notify.EVENTS,
                       timeout=0.3, attempts=1, backoff=0.01)
    started = time.monotonic()
    assert notify.deliver(ws, slow, {"event": "open", "alert": {"id": "x"}}).startswith("timed out after 0.3s")
    assert time.monotonic() - started < 3

    script = sample_ws / "hooks" / "page.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text("import sys; sys.stdin.read()\n")
    script.chmod(0o666)  # anyone could change what runs: refused, and said once
    configure(sample_ws, '[notify.page]\ncommand = ["python", "hooks/page.py"]\n')
    rep, err = check(sample_ws)
    assert all(not n["delivered"] and "untrusted" in n["error"] for n in rep["notifications"])
    assert len([x for x in err.splitlines() if "notify page" in x]) == 1


@pytest.mark.parametrize("toml,message", [
    ('[notify.x]\nwebhook = "ftp://h/"', "[notify.x] webhook must be an http:// or https:// URL"),
    ('[notify.x]\ncommand = []', "[notify.x] command must be a non-empty list"),
    ('[notify.x]\nwebhook = "http://h/"\ncommand = ["a"]', "[notify.x] needs exactly one of"),
    ('[notify.x]\nwebhook = "http://h/"\nevents = ["opened"]', "events must be a non-empty list"),
    ('[notify.x]\nwebhook = "http://h/"\nattempts = 0', "attempts must be a whole number from 1 to 10"),
    ('[notify.x]\nwebhook = "http://h/"\ntimeout = "1x"', "[notify.x] timeout must be a duration string"),
    ('[notify.x]\nwebhok = "http://h/"', "unknown key [notify.x] webhok (did you mean webhook?)"),
])
def test_bad_notify_config_is_one_line(workspace_dir: Path, toml: str, message: str) -> None:
    from console.cli import main

    configure(workspace_dir, toml)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["check", "--workspace", str(workspace_dir)])
    assert code == 2 and message in err.getvalue() and err.getvalue().count("\n") == 1, err.getvalue()
