"""The AWS side of the region scan bench: each region's EC2 endpoint a moto server process of
its own, as AWS's regional endpoints are machines of their own.

In one process, moto builds every region's DescribeInstances answer under the interpreter lock
that the Lambda's code needs too: 1.6 s of moto's CPU (about 4 ms an instance) sat in the
middle of a 2.6 s scan, where real regions build their answers elsewhere, at once. Here
each region's answers come from its own process over HTTP on 127.0.0.1: the Lambda process
sends the request and parses the answer (its own work on Lambda too), nothing more.

Kept answers. This machine has two cores for some twenty regions' endpoints, which AWS runs on
fleets: twenty processes building answers at once still queue for two cores. So each server
keeps the answer it built to a read (an action named Describe*, Get* or List*) and sends it
again for the same request, until any other action reaches that server (a write; all kept
answers are then dropped). The answer is the same bytes moto builds for the state it serves;
its CPU is spent once, at the bench's warm-up run. `keep_answers=False` builds every answer
anew (`make bench` ARGS: --regions-fresh-answers), to show what moto's CPU costs here.

Only EC2 goes to the servers: the harness answers DescribeRegions and Config's calls in the
bench process (harness.aws.Sandbox), and counts every call there as before.
"""

import argparse
import contextlib
import io
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Query-protocol actions that change nothing (EC2 names them so).
READ_PREFIXES = ("Describe", "Get", "List")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_START_TIMEOUT_SECONDS = 60
# What each server prints once it listens: 'eu-west-3 41263 8812'.
_STARTED = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d{1,2}) (\d+) (\d+)")


class KeptAnswers:
    """WSGI middleware: a read's answer kept and sent again for the same request until the
    next write reaches the server. Only 200 answers are kept."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.answers: dict[tuple[str, str, str, bytes], tuple[str, list[tuple[str, str]], bytes]] = {}
        self._writes = 0  # an answer built while a write ran is not kept
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        fields = parse_qs(body.decode("utf-8", "replace")) | parse_qs(environ.get("QUERY_STRING", ""))
        action = (fields.get("Action") or [""])[0]
        if not action.startswith(READ_PREFIXES):
            with self._lock:
                self.answers.clear()
                self._writes += 1
            try:
                return self.app(environ, start_response)  # type: ignore[no-any-return]
            finally:
                with self._lock:
                    self.answers.clear()
                    self._writes += 1
        # The region is in the signature's credential scope (moto reads it there too).
        scope = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split("/")
        key = (scope[2] if len(scope) > 2 else "", environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), body)
        with self._lock:
            kept, writes = self.answers.get(key), self._writes
        if kept is None:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            answered = self.app(environ, capture)
            try:
                answer = b"".join(answered)
            finally:
                if hasattr(answered, "close"):
                    answered.close()
            kept = (captured["status"], captured["headers"], answer)
            with self._lock:
                if kept[0].startswith("200") and writes == self._writes:
                    self.answers[key] = kept
        status, headers, answer = kept
        start_response(status, headers)
        return [answer]


def _serve(region: str, keep_answers: bool, launcher: int) -> None:
    """One region's endpoint, in a process forked by the launcher; ends when the launcher does."""
    from moto.moto_api._internal import mock_random
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    # Forked processes share their launcher's random state: without a new seed every region
    # would name its instances alike.
    random.seed()
    mock_random.seed()

    class Quiet(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    app: Any = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, KeptAnswers(app) if keep_answers else app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # One write, so that the servers' lines never interleave (print writes the line and its end
    # apart when Python's output is unbuffered, as PYTHONUNBUFFERED makes it).
    os.write(sys.stdout.fileno(), f"{region} {server.server_port} {os.getpid()}\n".encode())
    while os.getppid() == launcher:
        time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> None:
    """The launcher: imports moto once, forks one server per region, prints 'region port pid'
    for each, and ends them all when it is told to end (SIGTERM) or its parent goes away."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fresh-answers", action="store_true", help="build every answer anew")
    parser.add_argument("regions", nargs="+")
    args = parser.parse_args(argv)
    import moto.ec2.models
    import moto.moto_server.werkzeug_app  # noqa: F401

    launcher, parent = os.getpid(), os.getppid()
    children: list[int] = []
    for region in args.regions:
        pid = os.fork()
        if pid == 0:
            try:
                _serve(region, not args.fresh_answers, launcher)
            finally:
                os._exit(0)
        children.append(pid)

    def end(*_: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
        os._exit(0)

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    while os.getppid() == parent:
        time.sleep(0.5)
    end()


class RegionEndpoints:
    """One moto server process per region; `install` routes a boto3 session's EC2 requests
    for those regions to them. Use as a context manager: the processes end with it."""

    def __init__(self, regions: Iterable[str], keep_answers: bool = True) -> None:
        self.regions = sorted(set(regions))
        self.keep_answers = keep_answers
        self.urls: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self._launcher: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RegionEndpoints":
        fresh = [] if self.keep_answers else ["--fresh-answers"]
        command = [sys.executable, "-m", "bench.region_endpoints", *fresh, *self.regions]
        root = str(Path(__file__).resolve().parent.parent)
        environment = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._launcher = subprocess.Popen(command, stdout=subprocess.PIPE, env=environment)
        try:
            assert self._launcher.stdout is not None
            output = self._launcher.stdout.fileno()
            deadline = time.monotonic() + _START_TIMEOUT_SECONDS
            pending = b""
            while len(self.urls) < len(self.regions):
                waited = select.select([output], [], [], max(0.0, deadline - time.monotonic()))[0]
                chunk = os.read(output, 4096) if waited else b""
                if not chunk:  # the deadline passed, or the launcher ended
                    missing = sorted(set(self.regions) - set(self.urls))
                    raise RuntimeError(f"the region endpoints did not start: {missing} missing")
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    # 'region port pid' lines; anything else a library printed is shown, not read.
                    started = _STARTED.fullmatch(line.decode(errors="replace").strip())
                    if started is None:
                        print(f"region endpoints: {line.decode(errors='replace')}", file=sys.stderr)
                        continue
                    region, port, pid = started.groups()
                    self.urls[region], self.pids[region] = f"http://127.0.0.1:{port}", int(pid)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self._launcher is not None:
            self._launcher.terminate()  # it ends its servers
            try:
                self._launcher.wait(10)
            except subprocess.TimeoutExpired:
                self._launcher.kill()
                self._launcher.wait()
            if self._launcher.stdout is not None:
                self._launcher.stdout.close()
            self._launcher = None

    def install(self, session: Any) -> None:
        """Route the session's EC2 requests (and those of the sessions copied from it later,
        as mamori.clients does for region workers) to the regions' servers."""
        session.events.register_first("before-send.ec2", self._route)

    def _route(self, request: Any, **_: Any) -> None:
        # https://ec2.<region>.amazonaws.com/... -> the region's server; signed as before.
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        region = host.removeprefix("ec2.").removesuffix(".amazonaws.com")
        if region in self.urls and host == f"ec2.{region}.amazonaws.com":
            request.url = self.urls[region] + parts.path + (f"?{parts.query}" if parts.query else "")

    def cpu_seconds(self) -> float:
        """CPU seconds (user and system) the servers have spent so far, all together."""
        total = 0
        for pid in self.pids.values():
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        return total / _CLOCK_TICKS


if __name__ == "__main__":
    main()
