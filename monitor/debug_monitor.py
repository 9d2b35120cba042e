#!/usr/bin/env python3
"""DebugMonitor: probe an HTTP health endpoint and say *why* it is down.

Written after an incident where a FastAPI backend crash-looped on k3s and nobody
could tell why: the Service just stopped answering. This script runs in a tiny
pod next to the app and

* GETs ``TARGET_URL`` every ``INTERVAL_SECONDS`` and logs one JSON line per
  check with a failure ``reason`` that is exactly one of ``dns``, ``connect``,
  ``timeout``, ``http`` or ``invalid`` (see ``check_target``);
* logs a ``state`` line whenever the target goes UP/DOWN (the very first check
  logs ``UNKNOWN -> UP`` or ``UNKNOWN -> DOWN``);
* while the target is down, asks the Kubernetes API for the target's pods and
  their Warning events and logs what it finds (CrashLoopBackOff, exit codes,
  image pull errors, scheduling failures...), and for every container whose
  previous run ended with a non-zero exit code, the last lines of that run's
  log (the traceback), once per restart;
* serves ``/healthz`` and Prometheus ``/metrics`` on ``METRICS_PORT``.

Only the Python standard library is used (the image has no pip), nothing is
written to disk (read-only root filesystem) and no failure of the target or of
the API may crash the monitor: every such failure becomes a logged reason.

Environment variables (defaults in brackets):

    TARGET_URL                 full URL of the health endpoint (required)
    INTERVAL_SECONDS           [5]    time between the starts of two checks
    TIMEOUT_SECONDS            [3]    budget for one whole check (DNS to body)
    METRICS_PORT               [9102] port for /healthz and /metrics (0: any free
                                      port; the start line says which)
    TARGET_NAMESPACE           namespace of the target's pods  } both needed for
    TARGET_SELECTOR            label selector of the pods      } the diagnosis
    KUBE_API_URL               [https://kubernetes.default.svc]
    KUBE_TOKEN_FILE            [/var/run/secrets/kubernetes.io/serviceaccount/token]
    KUBE_CA_FILE               [/var/run/secrets/kubernetes.io/serviceaccount/ca.crt]
                               (not used when KUBE_API_URL is plain http)
    KUBE_TIMEOUT_SECONDS       [5]    budget for one Kubernetes API request
    DIAGNOSE_INTERVAL_SECONDS  [30]   while down, diagnose at most this often
                                      (always on the change to DOWN; 0: on
                                      every failed check)
    MAX_CHECKS                 [0]    stop after this many checks (0: never)

Output: one JSON object per line on stdout, each with ``ts`` (UTC) and
``event``: ``start`` (the configuration, never the token), ``check``,
``state``, ``diagnosis`` (followed by ``pod``, ``k8s_event`` and
``previous_log`` lines),
``diagnosis_error``, ``metrics_error``, ``error`` (a bug, caught), ``stop``
(always the last line) or ``config_error`` (the only line on bad settings).

A diagnosis runs in the checker thread, so while it lasts (at most two list
requests and MAX_PREVIOUS_LOGS log requests, of KUBE_TIMEOUT_SECONDS each) the
next check waits.

A ``previous_log`` line holds the last PREVIOUS_LOG_LINES lines of a
container's previous run (``GET .../pods/<pod>/log?container=<c>&previous=true
&tailLines=20``), for each container of the target's pods whose last
termination (``lastState.terminated``) has a non-zero exit code: pod,
container, restart count, exit code, reason, ``lines``. It is logged once per
pod, container and restart count, so a crash loop adds one per restart. A
refused or failed log request is a ``diagnosis_error`` with step
``previous_log`` (retried at the next diagnosis unless the API answered 4xx).

/metrics also exposes the reason of the last failed check as
``debug_monitor_last_failure_reason{reason="..."}``: 1 for the reason of the
last check while it failed, 0 for the other reasons (all 0 after a success),
so that an alert can say *why* the target is down.

Exit status: 0 after SIGTERM/SIGINT or MAX_CHECKS, 2 on invalid configuration.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, TextIO

VERSION = "1"
USER_AGENT = f"sophia-debug-monitor/{VERSION}"

#: The closed set of failure reasons of a check.
REASONS = ("dns", "connect", "timeout", "http", "invalid")
#: Bytes of a non-2xx answer's body that are logged.
BODY_PREVIEW_BYTES = 200
#: Largest Kubernetes API answer read (a PodList/EventList of one namespace).
MAX_API_BODY_BYTES = 8 * 1024 * 1024
#: Warning events logged per diagnosis, most recent first.
MAX_EVENTS = 5
#: Longest free-text message (events, termination messages, log lines) copied into a line.
MAX_MESSAGE_CHARS = 500
#: Lines of a crashed container's previous log that are logged (a traceback's end).
PREVIOUS_LOG_LINES = 20
#: Previous logs fetched per diagnosis; the rest wait for the next diagnosis.
MAX_PREVIOUS_LOGS = 4
#: Largest previous-log answer read (20 lines, however long).
MAX_LOG_BODY_BYTES = 256 * 1024

DEFAULT_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

#: Exit codes worth explaining to whoever reads the log at 3 a.m.
EXIT_CODE_MEANINGS = {
    0: "exited normally",
    1: "application error (read `kubectl logs --previous`)",
    3: "uvicorn could not start the app (startup/lifespan error), if run by uvicorn",
    126: "command not executable",
    127: "command not found (wrong image or entrypoint?)",
    137: "killed by SIGKILL (OOMKilled, or killed after a failed liveness probe)",
    139: "segmentation fault (SIGSEGV)",
    143: "terminated by SIGTERM",
}


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds, e.g. 2024-05-01T10:00:00.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip(text: Any, limit: int = MAX_MESSAGE_CHARS) -> Any:
    """Shorten long strings so that one bad message cannot flood the log."""
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + "..."
    return text


class JsonLog:
    """Writes one JSON object per line to stdout, flushed at once, from any thread.

    stdout is the monitor's only output: the pod cannot write files and
    ``kubectl logs`` is where people look. After ``close`` nothing more is
    written, so the ``stop`` line is reliably the last one even if a check is
    still running in the background.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._closed = False

    def emit(self, event: str, **fields: Any) -> None:
        """Log one line; ``ts`` and ``event`` always come first."""
        self._write({"ts": utc_now(), "event": event, **fields}, close=False)

    def close(self, event: str, **fields: Any) -> None:
        """Log a last line and silence the log."""
        self._write({"ts": utc_now(), "event": event, **fields}, close=True)

    def _write(self, record: dict[str, Any], close: bool) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            if self._closed:
                return
            self._closed = close
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # stdout is gone: there is nowhere left to complain to


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


class ConfigError(ValueError):
    """The environment does not describe a usable monitor."""


@dataclass(frozen=True)
class Config:
    """Settings read once from the environment at startup."""

    target_url: str
    interval_s: float
    timeout_s: float
    metrics_port: int
    namespace: str | None
    selector: str | None
    kube_api_url: str
    kube_token_file: str
    kube_ca_file: str
    kube_timeout_s: float
    diagnose_interval_s: float
    max_checks: int


def _number(env: Mapping[str, str], name: str, default: float, allow_zero: bool) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ConfigError(f"{name}={raw!r} must be a finite number >= 0")
    if value == 0 and not allow_zero:
        raise ConfigError(f"{name}={raw!r} must be > 0")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not 0 <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between 0 and {maximum}")
    return value


def _http_url(env: Mapping[str, str], name: str, default: str | None) -> str:
    raw = env.get(name, "").strip() or default
    if not raw:
        raise ConfigError(f"{name} is required (e.g. http://my-svc.my-ns.svc.cluster.local:8000/health)")
    try:
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={raw!r} must be an http:// or https:// URL with a host")
    if any(ch.isspace() for ch in raw):
        raise ConfigError(f"{name}={raw!r} must not contain white space")
    return raw


def load_config(env: Mapping[str, str]) -> Config:
    """Read and validate the environment; raise ConfigError with a readable message."""
    return Config(
        target_url=_http_url(env, "TARGET_URL", None),
        interval_s=_number(env, "INTERVAL_SECONDS", 5.0, allow_zero=False),
        timeout_s=_number(env, "TIMEOUT_SECONDS", 3.0, allow_zero=False),
        metrics_port=_integer(env, "METRICS_PORT", 9102, 65535),
        namespace=env.get("TARGET_NAMESPACE", "").strip() or None,
        selector=env.get("TARGET_SELECTOR", "").strip() or None,
        kube_api_url=_http_url(env, "KUBE_API_URL", "https://kubernetes.default.svc").rstrip("/"),
        kube_token_file=env.get("KUBE_TOKEN_FILE", "").strip() or f"{DEFAULT_SA_DIR}/token",
        kube_ca_file=env.get("KUBE_CA_FILE", "").strip() or f"{DEFAULT_SA_DIR}/ca.crt",
        kube_timeout_s=_number(env, "KUBE_TIMEOUT_SECONDS", 5.0, allow_zero=False),
        diagnose_interval_s=_number(env, "DIAGNOSE_INTERVAL_SECONDS", 30.0, allow_zero=True),
        max_checks=_integer(env, "MAX_CHECKS", 0, 2**31 - 1),
    )


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL before it is logged or used as a label."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


# --------------------------------------------------------------------------
# One HTTP GET with every failure classified
# --------------------------------------------------------------------------


class RequestFailed(Exception):
    """A GET that got no usable HTTP answer; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Response:
    """An HTTP answer (of any status) and the first bytes of its body."""

    status: int
    phrase: str
    body: bytes
    truncated: bool
    body_error: str | None = None


def _remaining(deadline: float) -> float:
    # A socket timeout of 0 would mean "non-blocking", never "expired".
    return max(deadline - time.monotonic(), 0.001)


def _resolve(host: str, port: int, timeout_s: float) -> list[tuple[Any, ...]]:
    """getaddrinfo with a time limit.

    getaddrinfo ignores socket timeouts (its own limit comes from resolv.conf
    and can be 10 s or more when cluster DNS is down), so it runs in a daemon
    thread that is simply abandoned when it takes too long.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="dns", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise RequestFailed(
            "dns", f"no DNS answer for {host!r} within {timeout_s:g} s (cluster DNS down or overloaded?)"
        )
    error = box.get("error")
    if isinstance(error, socket.gaierror):
        missing = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
        if error.errno in missing:
            hint = "the name does not exist: wrong Service name or namespace, or the Service was deleted"
        elif error.errno == socket.EAI_AGAIN:
            hint = "temporary DNS failure: is cluster DNS (CoreDNS) up?"
        else:
            hint = "DNS lookup failed"
        raise RequestFailed("dns", f"cannot resolve {host!r}: {error.strerror or error} ({hint})")
    if error is not None:  # e.g. UnicodeError for a name that is not valid IDNA
        raise RequestFailed("dns", f"cannot resolve {host!r}: {type(error).__name__}: {error}")
    infos: list[tuple[Any, ...]] = box.get("infos") or []
    if not infos:
        raise RequestFailed("dns", f"cannot resolve {host!r}: no addresses")
    return infos


def _format_addr(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _connect(infos: list[tuple[Any, ...]], deadline: float, timeout_s: float) -> tuple[socket.socket, str]:
    """TCP-connect to the first address that accepts, like socket.create_connection.

    Done by hand (rather than by http.client) so that DNS and connect failures
    cannot be confused with failures that happen once a connection exists.
    """
    last: tuple[OSError, str] | None = None
    for family, socktype, proto, _canonname, sockaddr in infos:
        addr = _format_addr(sockaddr)
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(sockaddr)
            return sock, addr
        except OSError as exc:
            sock.close()
            last = (exc, addr)
    assert last is not None  # _resolve never returns an empty list
    error, addr = last
    # TimeoutError is socket.timeout (an alias since 3.10) and an OSError: test it first.
    if isinstance(error, TimeoutError):
        raise RequestFailed(
            "timeout",
            f"TCP connect to {addr} timed out after {timeout_s:g} s "
            "(packets dropped: pod IP gone, NetworkPolicy, or node down?)",
        )
    if isinstance(error, ConnectionRefusedError):
        raise RequestFailed(
            "connect",
            f"connection refused by {addr} (nothing listens there: app not started, crashed, or wrong port)",
        )
    raise RequestFailed("connect", f"cannot connect to {addr}: {error.strerror or error}")


def _classify_after_connect(exc: BaseException, expired: bool, addr: str, timeout_s: float) -> RequestFailed:
    """Map an exception raised once the TCP connection existed to a reason.

    Order matters: http.client.RemoteDisconnected is both a
    ConnectionResetError and a BadStatusLine; ssl.SSLError and TimeoutError
    are OSErrors.
    """
    if expired or isinstance(exc, TimeoutError):
        return RequestFailed(
            "timeout",
            f"{addr} accepted the connection but sent no complete answer within {timeout_s:g} s "
            "(app hung, overloaded, or blocked event loop?)",
        )
    if isinstance(exc, http.client.RemoteDisconnected):
        return RequestFailed(
            "invalid",
            f"{addr} closed the connection without answering "
            "(app crashing on requests, or not an HTTP server?)",
        )
    if isinstance(exc, http.client.BadStatusLine):
        first_line = str(exc.args[0]) if exc.args else ""
        return RequestFailed("invalid", f"{addr} did not answer HTTP: first line {clip(first_line, 80)!r}")
    if isinstance(exc, ssl.SSLError):
        return RequestFailed("invalid", f"TLS failure with {addr}: {exc}")
    if isinstance(exc, http.client.HTTPException):
        return RequestFailed(
            "invalid", f"malformed HTTP answer from {addr}: {type(exc).__name__}: {clip(str(exc), 200)}"
        )
    if isinstance(exc, OSError):
        return RequestFailed(
            "invalid", f"connection to {addr} broke before a complete answer: {exc.strerror or exc}"
        )
    return RequestFailed(
        "invalid", f"unexpected {type(exc).__name__} talking to {addr}: {clip(str(exc), 200)}"
    )


def http_get(
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str],
    ssl_context: ssl.SSLContext | None,
    max_body: int,
) -> Response:
    """GET ``url`` within ``timeout_s`` in total and return any HTTP answer.

    A non-2xx status is a Response, not an error: the caller decides. Every
    way of getting no HTTP answer at all raises RequestFailed with a reason in
    dns / connect / timeout / invalid. Redirects are not followed (a health
    endpoint that redirects is reported as it is). A watchdog timer shuts the
    socket down at the deadline, so a server that drips its answer one byte at
    a time cannot stretch a check beyond the timeout.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout_s

    infos = _resolve(host, port, timeout_s)
    sock, addr = _connect(infos, deadline, timeout_s)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        try:
            # The base-class method works on plain and TLS sockets alike.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    watchdog = threading.Timer(_remaining(deadline), expire)
    watchdog.daemon = True
    watchdog.start()
    conn: http.client.HTTPConnection | None = None
    status: int | None = None
    phrase = ""
    try:
        sock.settimeout(_remaining(deadline))
        if tls:
            sock = (ssl_context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
        conn = http.client.HTTPConnection(host, port, timeout=_remaining(deadline))
        conn.sock = sock  # already connected: http.client must not connect again
        conn.request("GET", path, headers=dict(headers))
        answer = conn.getresponse()
        status, phrase = answer.status, answer.reason
        body = answer.read(max_body + 1)
        return Response(status, phrase, body[:max_body], len(body) > max_body)
    except Exception as exc:  # noqa: BLE001 - everything becomes a reason
        if status is not None and not 200 <= status < 300:
            # The status already says what is wrong; a broken body changes nothing.
            return Response(status, phrase, b"", False, body_error=f"{type(exc).__name__}: {exc}")
        raise _classify_after_connect(exc, expired.is_set(), addr, timeout_s) from exc
    finally:
        watchdog.cancel()
        if conn is not None:
            conn.close()
        else:
            sock.close()


# --------------------------------------------------------------------------
# Checks, state and metrics
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check of the target."""

    ok: bool
    status: int | None
    latency_s: float
    reason: str | None = None
    detail: str | None = None
    body: str | None = None


def check_target(url: str, timeout_s: float) -> CheckResult:
    """GET the health endpoint once; never raises.

    Reasons: ``dns`` (name does not resolve), ``connect`` (refused or
    unreachable), ``timeout`` (no complete answer in time, connect included),
    ``http`` (an HTTP answer with a non-2xx status; ``body`` holds its first
    200 bytes), ``invalid`` (something answered, but not HTTP: garbage,
    connection closed or reset without an answer, TLS failure).
    """
    start = time.monotonic()
    try:
        response = http_get(
            url,
            timeout_s=timeout_s,
            headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"},
            ssl_context=None,
            max_body=BODY_PREVIEW_BYTES,
        )
    except RequestFailed as failure:
        return CheckResult(False, None, time.monotonic() - start, failure.reason, failure.detail)
    except Exception as exc:  # noqa: BLE001 - a bug here must not stop the monitor
        detail = f"unexpected {type(exc).__name__}: {exc}"
        return CheckResult(False, None, time.monotonic() - start, "invalid", detail)
    latency = time.monotonic() - start
    if 200 <= response.status < 300:
        return CheckResult(True, response.status, latency)
    detail = f"HTTP {response.status} {response.phrase}".rstrip()
    if response.body_error:
        detail += f" (body unreadable: {response.body_error})"
    body = response.body[:BODY_PREVIEW_BYTES].decode("utf-8", errors="replace")
    return CheckResult(False, response.status, latency, "http", detail, body)


class Metrics:
    """Numbers behind /metrics: written by the checker, read by scrapes."""

    def __init__(self, target: str) -> None:
        self._lock = threading.Lock()
        self._target = target
        self._up: int | None = None  # None until the first check
        self._latency_s: float | None = None
        self._failure_reason: str | None = None  # of the last check, None if it succeeded
        self._consecutive_failures = 0
        # Every series exists from the start so that rate() works at once.
        self._checks: dict[tuple[str, str], int] = {("ok", "none"): 0}
        self._checks.update({("fail", reason): 0 for reason in REASONS})

    def record(self, result: CheckResult, consecutive_failures: int) -> None:
        """Account for one check, atomically with respect to scrapes."""
        key = ("ok", "none") if result.ok else ("fail", result.reason or "invalid")
        with self._lock:
            self._up = 1 if result.ok else 0
            self._latency_s = result.latency_s
            self._failure_reason = None if result.ok else key[1]
            self._consecutive_failures = consecutive_failures
            self._checks[key] = self._checks.get(key, 0) + 1

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        target = self._target.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        label = f'target="{target}"'
        with self._lock:
            up, latency, failures = self._up, self._latency_s, self._consecutive_failures
            failure_reason = self._failure_reason
            checks = sorted(self._checks.items())
        lines = [
            "# HELP debug_monitor_target_up 1 if the last check of the target succeeded, 0 if it failed"
            " (absent before the first check).",
            "# TYPE debug_monitor_target_up gauge",
        ]
        if up is not None:
            lines.append(f"debug_monitor_target_up{{{label}}} {up}")
        lines += [
            "# HELP debug_monitor_last_latency_seconds Duration of the last check, successful or not.",
            "# TYPE debug_monitor_last_latency_seconds gauge",
        ]
        if latency is not None:
            lines.append(f"debug_monitor_last_latency_seconds{{{label}}} {latency:.6f}")
        lines += [
            "# HELP debug_monitor_consecutive_failures Failed checks in a row (0 while the target is up).",
            "# TYPE debug_monitor_consecutive_failures gauge",
            f"debug_monitor_consecutive_failures{{{label}}} {failures}",
            "# HELP debug_monitor_checks_total Checks of the target by result and failure reason.",
            "# TYPE debug_monitor_checks_total counter",
        ]
        lines += [
            f'debug_monitor_checks_total{{{label},result="{result}",reason="{reason}"}} {count}'
            for (result, reason), count in checks
        ]
        lines += [
            "# HELP debug_monitor_last_failure_reason 1 for the reason the last check failed with,"
            " 0 for the other reasons (all 0 while the last check succeeded).",
            "# TYPE debug_monitor_last_failure_reason gauge",
        ]
        lines += [
            f'debug_monitor_last_failure_reason{{{label},reason="{reason}"}} {int(reason == failure_reason)}'
            for reason in REASONS
        ]
        return "\n".join(lines) + "\n"


class _MetricsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    metrics: Metrics

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a scraper hangs up mid-answer: not the target's problem."""


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    server: _MetricsServer
    server_version = "debug-monitor"

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            self._send(200, "text/plain; charset=utf-8", b"ok")
        elif path == "/metrics":
            self._send(200, "text/plain; version=0.0.4; charset=utf-8", self.server.metrics.render().encode())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed
        """Silence per-request logs: a scrape every 15 s would drown the check lines."""


def start_metrics_server(port: int, metrics: Metrics) -> _MetricsServer:
    """Serve /healthz and /metrics on 0.0.0.0:port from a daemon thread."""
    server = _MetricsServer(("0.0.0.0", port), _MetricsHandler)
    server.metrics = metrics
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


# --------------------------------------------------------------------------
# Kubernetes diagnosis
# --------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    """The API's JSON is trusted for nothing: treat anything odd as empty."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def summarize_container(status: dict[str, Any], init: bool) -> dict[str, Any]:
    """What one container status says about why the pod is not serving."""
    state = _dict(status.get("state"))
    waiting = _dict(state.get("waiting"))
    # A container that is terminated right now explains itself; otherwise the
    # previous run (lastState) is what crashed before the current back-off.
    terminated = _dict(state.get("terminated")) or _dict(_dict(status.get("lastState")).get("terminated"))
    current = next((name for name in ("waiting", "running", "terminated") if name in state), "unknown")
    exit_code = terminated.get("exitCode") if isinstance(terminated.get("exitCode"), int) else None
    return {
        "name": status.get("name"),
        "init": init,
        "image": status.get("image"),
        "ready": status.get("ready") is True,
        "restart_count": _int(status.get("restartCount")),
        "state": current,
        "waiting_reason": waiting.get("reason"),
        "waiting_message": clip(waiting.get("message")),
        "last_termination_reason": terminated.get("reason"),
        "last_termination_exit_code": exit_code,
        "exit_code_meaning": EXIT_CODE_MEANINGS.get(exit_code) if exit_code is not None else None,
        "last_termination_message": clip(terminated.get("message")),
        "last_termination_finished_at": terminated.get("finishedAt"),
    }


def summarize_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """One ``pod`` line: phase, readiness, restarts and every container's story."""
    meta, spec, status = _dict(pod.get("metadata")), _dict(pod.get("spec")), _dict(pod.get("status"))
    conditions = _list(status.get("conditions"))
    containers = [summarize_container(c, init=True) for c in _list(status.get("initContainerStatuses"))]
    containers += [summarize_container(c, init=False) for c in _list(status.get("containerStatuses"))]
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "phase": status.get("phase"),
        "ready": any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
        "restarts": sum(c["restart_count"] for c in containers),
        "node": spec.get("nodeName"),
        "terminating": bool(meta.get("deletionTimestamp")),
        "reason": status.get("reason"),  # e.g. Evicted
        "message": clip(status.get("message")),
        # Unschedulable ("0/3 nodes are available: insufficient nvidia.com/gpu"),
        # init containers not done, containers not ready...
        "conditions": [
            {
                "type": c.get("type"),
                "status": c.get("status"),
                "reason": c.get("reason"),
                "message": clip(c.get("message")),
            }
            for c in conditions
            if c.get("status") != "True"
        ],
        "containers": containers,
    }


def _event_time(event: dict[str, Any]) -> datetime | None:
    # Events written through events.k8s.io/v1 have eventTime/series and no lastTimestamp.
    candidates = (
        event.get("lastTimestamp"),
        _dict(event.get("series")).get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        _dict(event.get("metadata")).get("creationTimestamp"),
    )
    return next((t for t in map(_parse_time, candidates) if t is not None), None)


def summarize_event(event: dict[str, Any], scope: str) -> dict[str, Any]:
    """One ``k8s_event`` line."""
    involved = _dict(event.get("involvedObject"))
    when = _event_time(event)
    return {
        "namespace": involved.get("namespace") or _dict(event.get("metadata")).get("namespace"),
        "object": f"{involved.get('kind')}/{involved.get('name')}",
        "scope": scope,
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": clip(event.get("message")),
        "count": _int(event.get("count")) or _int(_dict(event.get("series")).get("count")) or 1,
        "last_timestamp": when.isoformat().replace("+00:00", "Z") if when else None,
    }


def recent_warnings(events: list[dict[str, Any]], pod_names: set[str]) -> tuple[list[dict[str, Any]], str]:
    """The Warning events worth showing, most recent first, and their scope.

    Normally those of the target's pods. When no pod exists at all, the
    reason is usually on the ReplicaSet or Deployment (FailedCreate: quota,
    missing ServiceAccount, PodSecurity...), so then the namespace's most
    recent warnings are shown instead.
    """
    warnings = [e for e in events if e.get("type", "Warning") == "Warning"]
    if pod_names:
        scope = "pod"

        def about_target_pod(event: dict[str, Any]) -> bool:
            involved = _dict(event.get("involvedObject"))
            return involved.get("kind") == "Pod" and involved.get("name") in pod_names

        warnings = [e for e in warnings if about_target_pod(e)]
    else:
        scope = "namespace"
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    warnings.sort(key=lambda e: _event_time(e) or oldest, reverse=True)
    return warnings[:MAX_EVENTS], scope


_HTTP_HINTS = {
    401: "token rejected: expired, or not a ServiceAccount token of this cluster",
    403: "the monitor's ServiceAccount needs a Role allowing get/list on pods and events, and a RoleBinding",
    404: "no such namespace, or KUBE_API_URL is not the Kubernetes API",
}


def failed_previous_runs(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers (init ones first) whose previous run ended with a non-zero exit code."""
    meta, status = _dict(pod.get("metadata")), _dict(pod.get("status"))
    found = []
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for container in _list(status.get(key)):
            terminated = _dict(_dict(container.get("lastState")).get("terminated"))
            exit_code = terminated.get("exitCode")
            if not isinstance(exit_code, int) or isinstance(exit_code, bool) or exit_code == 0:
                continue
            found.append(
                {
                    "namespace": meta.get("namespace"),
                    "pod": meta.get("name"),
                    "container": container.get("name"),
                    "init": init,
                    "restart_count": _int(container.get("restartCount")),
                    "exit_code": exit_code,
                    "exit_code_meaning": EXIT_CODE_MEANINGS.get(exit_code),
                    "reason": terminated.get("reason"),
                    "finished_at": terminated.get("finishedAt"),
                }
            )
    return [run for run in found if isinstance(run["pod"], str) and isinstance(run["container"], str)]


class Diagnoser:
    """Asks the Kubernetes API why the target's pods are not serving."""

    def __init__(self, cfg: Config, log: JsonLog) -> None:
        self._cfg = cfg
        self._log = log
        # (pod, container, restart count) of the previous logs already shown.
        self._shown_logs: set[tuple[str, str, int]] = set()

    def run(self, trigger: str) -> None:
        """Log a ``diagnosis`` line, then ``pod``, ``k8s_event``, ``previous_log`` and error lines."""
        cfg = self._cfg
        if not cfg.namespace or not cfg.selector:
            detail = "set TARGET_NAMESPACE and TARGET_SELECTOR to diagnose the target's pods"
            self._error("config", "not_configured", detail)
            return
        try:
            with open(cfg.kube_token_file, encoding="utf-8") as handle:
                token = handle.read().strip()  # read every time: projected tokens rotate
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self._error(
                "token",
                "token",
                f"cannot read the ServiceAccount token {cfg.kube_token_file}: {reason} "
                "(automountServiceAccountToken: false?)",
            )
            return
        if not token:
            self._error("token", "token", f"the ServiceAccount token file {cfg.kube_token_file} is empty")
            return
        context: ssl.SSLContext | None = None
        if cfg.kube_api_url.startswith("https:"):
            try:
                context = ssl.create_default_context(cafile=cfg.kube_ca_file)
            except (OSError, ssl.SSLError) as exc:
                self._error("ca", "ca", f"cannot load the cluster CA {cfg.kube_ca_file}: {exc}")
                return

        ns = urllib.parse.quote(cfg.namespace, safe="")
        selector = urllib.parse.quote(cfg.selector, safe="")
        base = f"/api/v1/namespaces/{ns}"
        pods = self._get_items("pods", f"{base}/pods?labelSelector={selector}", token, context, "PodList")
        events = self._get_items(
            "events", f"{base}/events?fieldSelector=type%3DWarning", token, context, "EventList"
        )
        pod_lines = [summarize_pod(p) for p in pods] if pods is not None else []
        pod_names = {str(p["name"]) for p in pod_lines if p.get("name")}
        warnings, scope = recent_warnings(events, pod_names) if events is not None else ([], "pod")

        summary: dict[str, Any] = {
            "trigger": trigger,
            "namespace": cfg.namespace,
            "selector": cfg.selector,
            "pods": len(pod_lines) if pods is not None else None,
            "warning_events": len(warnings) if events is not None else None,
        }
        if pods == []:
            summary["detail"] = (
                "no pod matches the selector: Deployment scaled to 0, wrong selector, "
                "or pods cannot be created (see the namespace's warning events)"
            )
        self._log.emit("diagnosis", **summary)
        for line in pod_lines:
            self._log.emit("pod", **line)
        for event in warnings:
            self._log.emit("k8s_event", **summarize_event(event, scope))
        if pods is not None:
            # Forget the pods that are gone: the set stays as small as the Deployment.
            self._shown_logs = {key for key in self._shown_logs if key[0] in pod_names}
            self._show_previous_logs(pods, base, token, context)

    def _show_previous_logs(
        self, pods: list[dict[str, Any]], base: str, token: str, context: ssl.SSLContext | None
    ) -> None:
        """One ``previous_log`` line per crashed container run not shown yet."""
        runs = [run for pod in pods for run in failed_previous_runs(pod)]
        fetched = 0
        for run in runs:
            key = (run["pod"], run["container"], run["restart_count"])
            if key in self._shown_logs:
                continue
            if fetched == MAX_PREVIOUS_LOGS:
                break  # the next diagnosis shows the rest
            fetched += 1
            pod = urllib.parse.quote(run["pod"], safe="")
            query = urllib.parse.urlencode(
                {"container": run["container"], "previous": "true", "tailLines": PREVIOUS_LOG_LINES}
            )
            where = {"pod": run["pod"], "container": run["container"]}
            try:
                # As kubectl asks: the log is text/plain, an error a JSON Status.
                path = f"{base}/pods/{pod}/log?{query}"
                response = self._api_get(path, token, context, MAX_LOG_BODY_BYTES, "application/json, */*")
            except RequestFailed as failure:
                self._error("previous_log", failure.reason, f"Kubernetes API: {failure.detail}", **where)
                continue  # a network failure: try again at the next diagnosis
            if not 200 <= response.status < 300:
                detail = f"Kubernetes API answered HTTP {response.status}: {_status_message(response.body)}"
                if response.status == 403:
                    detail += " (the monitor's Role needs get on pods/log)"
                self._error("previous_log", "http", detail, status=response.status, **where)
                if 400 <= response.status < 500 and response.status != 429:
                    self._shown_logs.add(key)  # asking again would get the same answer
                continue
            self._shown_logs.add(key)
            text = response.body.decode("utf-8", errors="replace")
            lines = [clip(line) for line in text.splitlines()[-PREVIOUS_LOG_LINES:]]
            self._log.emit("previous_log", **run, lines=lines, truncated=response.truncated)

    def _api_get(
        self, path: str, token: str, context: ssl.SSLContext | None, max_body: int, accept: str
    ) -> Response:
        return http_get(
            self._cfg.kube_api_url + path,
            timeout_s=self._cfg.kube_timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": accept,
                "User-Agent": USER_AGENT,
            },
            ssl_context=context,
            max_body=max_body,
        )

    def _get_items(
        self, step: str, path: str, token: str, context: ssl.SSLContext | None, kind: str
    ) -> list[dict[str, Any]] | None:
        """The items of a list answer, or None after logging why there are none."""
        try:
            response = self._api_get(path, token, context, MAX_API_BODY_BYTES, "application/json")
        except RequestFailed as failure:
            self._error(step, failure.reason, f"Kubernetes API: {failure.detail}")
            return None
        if not 200 <= response.status < 300:
            message = _status_message(response.body)
            hint = _HTTP_HINTS.get(response.status)
            detail = f"Kubernetes API answered HTTP {response.status}: {message}"
            if hint:
                detail += f" ({hint})"
            self._error(step, "http", detail, status=response.status)
            return None
        if response.truncated:
            self._error(step, "invalid", f"Kubernetes API answer is larger than {MAX_API_BODY_BYTES} bytes")
            return None
        try:
            document = json.loads(response.body)
        except ValueError as exc:
            preview = response.body[:80].decode("utf-8", errors="replace")
            self._error(step, "invalid", f"Kubernetes API answer is not JSON ({exc}): {preview!r}")
            return None
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, list):
            got = document.get("kind") if isinstance(document, dict) else type(document).__name__
            self._error(step, "invalid", f"expected a {kind} with an items list, got {got!r}")
            return None
        return _list(items)

    def _error(self, step: str, reason: str, detail: str, status: int | None = None, **where: Any) -> None:
        fields: dict[str, Any] = {"step": step, "reason": reason, **where, "detail": detail}
        if status is not None:
            fields["status"] = status
        self._log.emit("diagnosis_error", **fields)


def _status_message(body: bytes) -> str:
    """The message of a Kubernetes Status object, else the start of the body."""
    text = body.decode("utf-8", errors="replace")
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(clip(message if isinstance(message, str) else text.strip(), 300))


# --------------------------------------------------------------------------
# The check loop
# --------------------------------------------------------------------------


class Monitor:
    """Runs the checks on a fixed cadence, tracks UP/DOWN and triggers diagnoses."""

    def __init__(
        self,
        cfg: Config,
        log: JsonLog,
        metrics: Metrics,
        stop: threading.Event,
    ) -> None:
        self._cfg = cfg
        self._log = log
        self._metrics = metrics
        self._stop = stop
        self._diagnoser = Diagnoser(cfg, log)
        self._url = redact_url(cfg.target_url)
        self.checks = 0
        self.state = "UNKNOWN"
        self._state_since = time.monotonic()
        self._consecutive_failures = 0
        self._last_diagnosis: float | None = None

    def run(self) -> None:
        """Check until stopped or MAX_CHECKS is reached; never raises."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # noqa: BLE001 - log it and keep monitoring
                self._log.emit("error", detail=f"unexpected {type(exc).__name__} in the check loop: {exc}")
            if self._cfg.max_checks and self.checks >= self._cfg.max_checks:
                return
            next_at += self._cfg.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # the check took longer than the interval: do not try to catch up
                next_at, delay = time.monotonic(), 0.0
            if self._stop.wait(delay):
                return

    def check_once(self) -> None:
        """One check: its line, a state line if UP/DOWN changed, a diagnosis if due."""
        self.checks += 1
        result = check_target(self._cfg.target_url, self._cfg.timeout_s)
        self._consecutive_failures = 0 if result.ok else self._consecutive_failures + 1
        self._metrics.record(result, self._consecutive_failures)
        line: dict[str, Any] = {
            "check": self.checks,
            "url": self._url,
            "ok": result.ok,
            "status": result.status,
            "latency_ms": round(result.latency_s * 1000, 1),
            "consecutive_failures": self._consecutive_failures,
        }
        if not result.ok:
            line["reason"] = result.reason
            line["detail"] = result.detail
            if result.reason == "http":
                line["body"] = result.body
        self._log.emit("check", **line)

        new_state = "UP" if result.ok else "DOWN"
        changed = new_state != self.state
        if changed:
            now = time.monotonic()
            old_state, duration = self.state, now - self._state_since
            if old_state == "UNKNOWN":
                message = f"UNKNOWN -> {new_state} on first check"
            else:
                message = f"{old_state} -> {new_state} after {duration:.1f} s {old_state.lower()}"
            fields: dict[str, Any] = {
                "url": self._url,
                "from": old_state,
                "to": new_state,
                "duration_s": round(duration, 3),
                "message": message,
            }
            if not result.ok:
                fields["reason"] = result.reason
            self._log.emit("state", **fields)
            self.state, self._state_since = new_state, now

        if not result.ok and self._diagnosis_due(changed):
            self._last_diagnosis = time.monotonic()
            try:
                self._diagnoser.run("state_change" if changed else "still_down")
            except Exception as exc:  # noqa: BLE001 - a diagnosis bug must not stop the checks
                self._log.emit(
                    "diagnosis_error",
                    step="diagnosis",
                    reason="internal",
                    detail=f"unexpected {type(exc).__name__}: {exc}",
                )

    def _diagnosis_due(self, changed: bool) -> bool:
        if changed or self._last_diagnosis is None:
            return True
        return time.monotonic() - self._last_diagnosis >= self._cfg.diagnose_interval_s


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def main() -> int:
    """Start the metrics server and the checker; stop on SIGTERM/SIGINT or MAX_CHECKS."""
    log = JsonLog(sys.stdout)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        # Only set flags here: the main thread never waits on `stop` itself,
        # so setting it from a handler cannot deadlock.
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        cfg = load_config(os.environ)
    except ConfigError as exc:
        log.close("config_error", detail=str(exc))
        return 2

    metrics = Metrics(redact_url(cfg.target_url))
    metrics_port: int | None = None
    metrics_failure: str | None = None
    try:
        metrics_port = start_metrics_server(cfg.metrics_port, metrics).server_address[1]
    except OSError as exc:
        metrics_failure = (
            f"cannot serve /metrics on 0.0.0.0:{cfg.metrics_port}: {exc}; checks continue without it"
        )

    log.emit(
        "start",
        version=VERSION,
        url=redact_url(cfg.target_url),
        interval_s=cfg.interval_s,
        timeout_s=cfg.timeout_s,
        metrics_port=metrics_port,
        namespace=cfg.namespace,
        selector=cfg.selector,
        kube_api_url=redact_url(cfg.kube_api_url),
        kube_token_file=cfg.kube_token_file,
        kube_token_present=os.path.isfile(cfg.kube_token_file),
        kube_ca_file=cfg.kube_ca_file,
        kube_timeout_s=cfg.kube_timeout_s,
        diagnose_interval_s=cfg.diagnose_interval_s,
        max_checks=cfg.max_checks or None,
        python=sys.version.split()[0],
        pid=os.getpid(),
    )
    if metrics_failure:
        log.emit("metrics_error", detail=metrics_failure)

    monitor = Monitor(cfg, log, metrics, stop)
    worker = threading.Thread(target=monitor.run, name="checker", daemon=True)
    worker.start()
    # join() with a short timeout returns as soon as the checker is done
    # (MAX_CHECKS) and lets the signal handler's flag be seen within 0.2 s.
    while worker.is_alive() and not stop.is_set():
        worker.join(0.2)
    stop.set()
    worker.join(0.25)  # a check in progress is abandoned: the worker is a daemon
    if received:
        why = "signal"
    elif cfg.max_checks and monitor.checks >= cfg.max_checks:
        why = "max_checks"
    else:
        why = "checker_stopped"  # cannot happen unless the checker thread died
    log.close(
        "stop",
        reason=why,
        signal=received[0] if received else None,
        checks=monitor.checks,
        state=monitor.state,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
