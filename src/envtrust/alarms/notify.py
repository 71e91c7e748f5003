"""Notification channels for alarms: a signed JSON webhook and e-mail, delivered in the background with retries.

The alarm service decides *when* to notify (an alarm opens, reactivates or escalates) and builds a
:class:`Notice`; a :class:`Notifier` hands every notice to every :class:`Channel` on background threads and
reports each outcome as a :class:`Delivery`.  Channels:

* :class:`WebhookChannel` — ``POST`` of :meth:`Notice.to_json` as UTF-8 JSON, optionally signed with
  HMAC-SHA256 (header ``X-Envtrust-Signature: sha256=<hex>`` over the exact body bytes);
* :class:`SmtpChannel` — a plain-text e-mail, Chinese first then English (implicit TLS, STARTTLS or plain).

:func:`channels_from_config` builds the channels from the ``[notify]`` table of a TOML file.  Everything here
uses the standard library only.  The format and the configuration are documented in ``docs/notifications.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import math
import os
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from http.client import HTTPException
from typing import Any, Protocol
from urllib.parse import urlsplit

from .. import __version__
from ..errors import NotifyError

__all__ = [
    "EVENTS",
    "Channel",
    "Delivery",
    "Notice",
    "Notifier",
    "NotifyError",
    "SmtpChannel",
    "WebhookChannel",
    "channels_from_config",
]

log = logging.getLogger(__name__)

EVENTS = ("open", "reactivate", "escalate")
SECURITIES = ("starttls", "ssl", "none")
DEFAULT_TIMEOUT = 10.0
DEFAULT_SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
NOTICE_TYPE = "envtrust.alarm"
NOTICE_VERSION = 1

_EVENT_ZH = {"open": "新报警", "reactivate": "报警再次触发", "escalate": "报警升级"}
_EVENT_EN = {"open": "opened", "reactivate": "reactivated", "escalate": "escalated"}
_CATEGORY_ZH = {
    "exceedance": "超标",
    "validity": "数据有效性",
    "anomaly": "数据异常",
    "tampering": "疑似造假",
}
_SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "严重"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")
_ADDR = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")
# 4xx answers after which a retry may succeed: request timeout, too early, too many requests.
_RETRYABLE_4XX = frozenset({408, 425, 429})


def _one_line(text: str) -> str:
    """Text fit for a header: control characters and runs of white space become one space."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


# ------------------------------------------------------------------------------------------------- notice
@dataclass(frozen=True, slots=True)
class Notice:
    """What a notification says about one alarm event."""

    alarm_id: int
    event: str  # "open" | "reactivate" | "escalate"
    mn: str
    pollutant: str | None
    check: str
    category: str  # exceedance | validity | anomaly | tampering
    severity: str  # low | medium | high (| critical)
    message: str  # bilingual "中文 | English" text from the check
    start: str  # ISO 8601 with offset
    end: str
    point_name: str = ""
    enterprise: str = ""
    region: str = ""
    escalation_level: int = 0
    link: str | None = None  # address of the alarm page when a public base URL is configured

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)}, got {self.event!r}")
        if self.escalation_level < 0:
            raise ValueError(f"escalation_level must not be negative, got {self.escalation_level}")

    def to_json(self) -> dict[str, object]:
        """The webhook body: ``type`` ("envtrust.alarm"), ``version`` (1) and every field."""
        out: dict[str, object] = {"type": NOTICE_TYPE, "version": NOTICE_VERSION}
        for f in dataclasses.fields(self):
            out[f.name] = getattr(self, f.name)
        return out

    # -- text
    def _where(self) -> str:
        return _one_line(self.point_name) or self.mn

    def _message_parts(self) -> tuple[str, str]:
        """(Chinese, English) halves of the check's "中文 | English" message; the whole message for both
        when it is not bilingual."""
        zh, sep, en = self.message.partition(" | ")
        if not sep or not zh.strip() or not en.strip():
            return self.message.strip(), self.message.strip()
        return zh.strip(), en.strip()

    def _event_zh(self) -> str:
        if self.event == "escalate" and self.escalation_level:
            return f"报警升级至第{self.escalation_level}级"
        return _EVENT_ZH[self.event]

    def _event_en(self) -> str:
        if self.event == "escalate" and self.escalation_level:
            return f"escalated to level {self.escalation_level}"
        return _EVENT_EN[self.event]

    def subject(self) -> str:
        """E-mail subject, Chinese first then English, on one line, e.g.
        ``【envtrust 报警】1号锅炉排放口 a21026 exceedance_hour 新报警（高） | alarm #42 opened, severity high``."""
        what = " ".join(x for x in (self._where(), self.pollutant, self.check) if x)
        sev_zh = _SEVERITY_ZH.get(self.severity, self.severity)
        zh = f"【envtrust 报警】{what} {self._event_zh()}（{sev_zh}）"
        en = f"alarm #{self.alarm_id} {self._event_en()}, severity {self.severity}"
        return _one_line(f"{zh} | {en}")

    def body(self) -> str:
        """Plain-text e-mail body: the Chinese block, then the same in English."""
        msg_zh, msg_en = self._message_parts()
        point = f"{self.point_name}（MN {self.mn}）" if self.point_name else f"MN {self.mn}"
        point_en = f"{self.point_name} (MN {self.mn})" if self.point_name else f"MN {self.mn}"
        cat_zh = _CATEGORY_ZH.get(self.category, self.category)
        sev_zh = _SEVERITY_ZH.get(self.severity, self.severity)
        zh = [f"【envtrust 报警】{self._event_zh()}", "", f"点位：{point}"]
        en = [f"envtrust alarm {self._event_en()}", "", f"Point: {point_en}"]
        if self.enterprise:
            zh.append(f"企业：{self.enterprise}")
            en.append(f"Enterprise: {self.enterprise}")
        if self.region:
            zh.append(f"行政区划：{self.region}")
            en.append(f"Region: {self.region}")
        if self.pollutant:
            zh.append(f"污染物：{self.pollutant}")
            en.append(f"Pollutant: {self.pollutant}")
        zh += [
            f"检查：{self.check}（类别：{cat_zh}；严重程度：{sev_zh}）",
            f"时段：{self.start} 至 {self.end}",
            f"说明：{msg_zh}",
        ]
        en += [
            f"Check: {self.check} (category {self.category}, severity {self.severity})",
            f"Period: {self.start} to {self.end}",
            f"Message: {msg_en}",
        ]
        if self.escalation_level:
            zh.append(f"升级级别：{self.escalation_level}")
            en.append(f"Escalation level: {self.escalation_level}")
        zh.append(f"报警编号：{self.alarm_id}")
        en.append(f"Alarm: #{self.alarm_id}")
        if self.link:
            zh.append(f"详情：{self.link}")
            en.append(f"Details: {self.link}")
        return "\n".join([*zh, "", "-" * 40, "", *en, ""])


# ------------------------------------------------------------------------------------------------ channels
class Channel(Protocol):
    """Something that delivers one notice; ``send`` raises :class:`NotifyError` when it could not."""

    name: str

    def send(self, notice: Notice) -> None: ...


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (0 < timeout < math.inf):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would turn the POST into a GET without the body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookChannel:
    """``POST`` the notice as UTF-8 JSON to ``url``.

    Headers: ``Content-Type: application/json; charset=utf-8``, ``X-Envtrust-Event`` (open, reactivate,
    escalate) and, with a ``secret``, ``X-Envtrust-Signature: sha256=<hex HMAC-SHA256 of the body bytes>``.
    A retry sends the very same bytes.  A 2xx answer is success; anything else, redirects included, raises
    :class:`NotifyError` with the status (not retryable for 4xx other than 408, 425 and 429).
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        name: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook url must be an http:// or https:// address, got {url!r}")
        if secret is not None and not secret:
            raise ValueError("webhook secret must not be empty")
        self.url = url
        self.timeout = _check_timeout(timeout)
        self._secret = secret.encode("utf-8") if secret is not None else None
        # The default name shows the host only: webhook addresses often carry an access token.
        self.name = name or f"webhook:{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r})"

    def payload(self, notice: Notice) -> bytes:
        """The exact body bytes sent (and signed) for ``notice``."""
        return json.dumps(notice.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def signature(self, body: bytes) -> str | None:
        """The ``X-Envtrust-Signature`` value for ``body``, or ``None`` without a secret."""
        if self._secret is None:
            return None
        return "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def send(self, notice: Notice) -> None:
        body = self.payload(notice)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"envtrust/{__version__}",
            "X-Envtrust-Event": notice.event,
        }
        sig = self.signature(body)
        if sig is not None:
            headers["X-Envtrust-Signature"] = sig
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                response.read(65536)  # let the server finish its answer; the content is not used
        except urllib.error.HTTPError as exc:
            with exc:
                code = exc.code
                retryable = not (300 <= code < 500) or code in _RETRYABLE_4XX
                what = "redirect not followed" if 300 <= code < 400 else exc.reason
                raise NotifyError(
                    f"{self.name}: HTTP {code} {what}", status=code, retryable=retryable
                ) from None
        except (urllib.error.URLError, HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise NotifyError(f"{self.name}: {type(reason).__name__}: {reason}") from None
        if not 200 <= status < 300:
            raise NotifyError(f"{self.name}: HTTP {status}", status=status)


def _split_address(value: str, what: str) -> str:
    """The bare address of ``value`` ("a@b" or "Name <a@b>"), or ValueError."""
    if not isinstance(value, str) or _CONTROL.search(value):
        raise ValueError(f"{what} must be an e-mail address, got {value!r}")
    _, addr = parseaddr(value)
    if not _ADDR.match(addr):
        raise ValueError(f"{what} must be an e-mail address, got {value!r}")
    return addr


class SmtpChannel:
    """Send the notice as a plain-text UTF-8 e-mail (subject encoded per RFC 2047, body base64).

    ``security``: ``"ssl"`` (implicit TLS, usually port 465), ``"starttls"`` (usually 587; fails when the
    server does not offer STARTTLS) or ``"none"``.  Certificates are verified with the system's trust store, or
    with ``context`` when one is given.  One connection per notice.  A refused recipient, a failed login and
    other 5xx answers raise a non-retryable :class:`NotifyError` (when some recipients were accepted, trying
    again would send the mail to them twice).
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        timeout: float = DEFAULT_TIMEOUT,
        name: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(host, str) or not host or _CONTROL.search(host):
            raise ValueError(f"smtp host must be a host name, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"smtp port must be 1-65535, got {port!r}")
        if security not in SECURITIES:
            raise ValueError(f"smtp security must be one of {', '.join(SECURITIES)}, got {security!r}")
        if isinstance(recipients, str) or not recipients:
            raise ValueError("smtp recipients must be a non-empty list of addresses")
        if (username is None) != (password is None):
            raise ValueError("smtp username and password go together")
        if not (username or "").isascii() or not (password or "").isascii():
            # smtplib encodes AUTH as ASCII; find out now rather than at the first alarm
            raise ValueError("smtp username and password must be ASCII")
        self.host = host
        self.port = port
        self.sender = sender
        self._envelope_from = _split_address(sender, "smtp sender")
        self.recipients = tuple(recipients)
        self._envelope_to = [_split_address(r, "smtp recipient") for r in self.recipients]
        self.username = username
        self._password = password
        self.security = security
        self.timeout = _check_timeout(timeout)
        self.name = name or f"smtp:{host}"
        self._context = context

    def __repr__(self) -> str:
        return f"SmtpChannel(name={self.name!r}, recipients={len(self.recipients)})"

    def message(self, notice: Notice) -> EmailMessage:
        """The e-mail sent for ``notice``."""
        msg = EmailMessage()
        msg["Subject"] = notice.subject()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid("envtrust", domain=Address(addr_spec=self._envelope_from).domain)
        msg["X-Envtrust-Event"] = notice.event
        msg["X-Envtrust-Alarm"] = str(notice.alarm_id)
        msg.set_content(notice.body(), charset="utf-8", cte="base64")
        return msg

    def _tls(self) -> ssl.SSLContext:
        return self._context or ssl.create_default_context()

    def send(self, notice: Notice) -> None:
        msg = self.message(notice)
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._tls())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg, from_addr=self._envelope_from, to_addrs=self._envelope_to)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            detail = "; ".join(f"{addr}: {code}" for addr, (code, _) in exc.recipients.items())
            raise NotifyError(
                f"{self.name}: every recipient refused ({detail})",
                status=max(codes, default=None),
                retryable=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyError(f"{self.name}: {exc}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            raise NotifyError(
                f"{self.name}: {type(exc).__name__} {exc.smtp_code} {_one_line(str(text))}",
                status=exc.smtp_code,
                retryable=not 500 <= exc.smtp_code < 600,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if refused:
            detail = "; ".join(f"{addr}: {code}" for addr, (code, _) in refused.items())
            raise NotifyError(f"{self.name}: some recipients refused ({detail})", retryable=False)


# ------------------------------------------------------------------------------------------------ notifier
@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one notice on one channel: ``attempts`` sends were made (0 when the notifier was closed
    before the first); ``error`` is the last failure, or ``"shutdown"`` when the notifier was closed first."""

    notice: Notice
    channel: str
    ok: bool
    attempts: int
    error: str | None


@dataclass(slots=True)
class _Job:
    notice: Notice
    attempts: int = 0


@dataclass(slots=True)
class _Lane:
    """One channel with its own thread and its own queue, ordered by due time."""

    channel: Channel
    heap: list[tuple[float, int, _Job]] = field(default_factory=list)
    thread: threading.Thread | None = None


class Notifier:
    """Delivers notices on background threads: every channel gets every notice; a failed send is retried with
    exponential back-off (``backoff_s``, doubling, at most ``backoff_cap_s``) until ``max_attempts`` sends
    were made or the error is not retryable; outcomes go to ``on_result`` (called on a notifier thread, one
    call at a time).  Never blocks the caller of :meth:`submit`.

    Each channel has its own thread and queue ordered by due time: a channel that is slow or keeps failing
    delays nothing but its own notices, and a notice waiting for its retry does not hold up newer ones.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        on_result: Callable[[Delivery], None] | None = None,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        backoff_cap_s: float = 300.0,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts!r}")
        if not 0 <= backoff_s < math.inf or not 0 <= backoff_cap_s < math.inf:
            raise ValueError("backoff_s and backoff_cap_s must be finite and not negative")
        names = [c.name for c in channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique: {', '.join(dupes)}")
        self._on_result = on_result
        self._max_attempts = max_attempts
        self._backoff = float(backoff_s)
        self._cap = float(backoff_cap_s)
        self._cond = threading.Condition()
        self._report_lock = threading.Lock()
        self._seq = itertools.count()
        self._pending = 0  # notices queued or being sent, over all channels
        self._closing = False
        self._lanes = [_Lane(c) for c in channels]
        for lane in self._lanes:
            lane.thread = threading.Thread(
                target=self._run, args=(lane,), name=f"envtrust-notify[{lane.channel.name}]", daemon=True
            )
            lane.thread.start()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def channels(self) -> list[str]:
        return [lane.channel.name for lane in self._lanes]

    def submit(self, notice: Notice) -> None:
        """Queue ``notice`` for every channel and return at once; RuntimeError after :meth:`close`."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the notifier is closed")
            now = time.monotonic()
            for lane in self._lanes:
                heapq.heappush(lane.heap, (now, next(self._seq), _Job(notice)))
                self._pending += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted notice has its outcome reported (True), or ``timeout`` seconds (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop: no new notices; queued notices and pending retries are reported as failed with error
        ``"shutdown"``; waits up to ``timeout`` seconds for sends in progress (bounded by the channels' own
        timeouts).  Call :meth:`flush` first to give queued notices their chance."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for lane in self._lanes:
            assert lane.thread is not None
            if lane.thread is threading.current_thread():
                continue  # close() called from on_result
            lane.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # -- the channel threads
    def _delay(self, attempts: int) -> float:
        return min(self._cap, self._backoff * 2.0 ** min(attempts - 1, 64))

    def _report(self, delivery: Delivery) -> None:
        try:
            if self._on_result is not None:
                with self._report_lock:
                    self._on_result(delivery)
        except Exception:
            log.exception("notification result handler failed for alarm %s", delivery.notice.alarm_id)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def _next(self, lane: _Lane) -> _Job | None:
        """The next job that is due, waiting for it; None once the notifier closes."""
        with self._cond:
            while not self._closing:
                if lane.heap:
                    wait = lane.heap[0][0] - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(lane.heap)[2]
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self, lane: _Lane) -> None:
        name = lane.channel.name
        while (job := self._next(lane)) is not None:
            job.attempts += 1
            error: str | None = None
            retryable = False
            try:
                lane.channel.send(job.notice)
            except NotifyError as exc:
                error, retryable = str(exc) or type(exc).__name__, exc.retryable
            except Exception as exc:  # a channel's bug must not end its thread
                log.exception("notification channel %s failed unexpectedly", name)
                error, retryable = f"{type(exc).__name__}: {exc}", True
            if error is not None and retryable and job.attempts < self._max_attempts:
                with self._cond:
                    if not self._closing:
                        due = time.monotonic() + self._delay(job.attempts)
                        heapq.heappush(lane.heap, (due, next(self._seq), job))
                        self._cond.notify_all()
                        continue
                error = "shutdown"
            if error is not None:
                log.warning(
                    "alarm %s not notified on %s after %d attempt(s): %s",
                    job.notice.alarm_id,
                    name,
                    job.attempts,
                    error,
                )
            self._report(Delivery(job.notice, name, error is None, job.attempts, error))
        with self._cond:
            left = [job for _, _, job in sorted(lane.heap)]
            lane.heap.clear()
        for job in left:
            self._report(Delivery(job.notice, name, False, job.attempts, "shutdown"))


# ----------------------------------------------------------------------------------------- configuration
_WEBHOOK_KEYS = ("url", "secret", "secret_env", "timeout", "name")
_SMTP_KEYS = (
    "host",
    "port",
    "sender",
    "recipients",
    "username",
    "password",
    "password_env",
    "security",
    "timeout",
    "name",
)


def _type_name(value: object) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)


class _Table:
    """One TOML table being read strictly: every error names the key."""

    def __init__(self, raw: object, where: str, known: Sequence[str]) -> None:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: expected a table, got {_type_name(raw)}")
        for key in raw:
            if key not in known:
                raise ValueError(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")
        self.raw = raw
        self.where = where

    def fail(self, key: str, msg: str) -> ValueError:
        return ValueError(f"{self.where}.{key}: {msg}")

    def string(self, key: str, *, required: bool = False) -> str | None:
        if key not in self.raw:
            if required:
                raise self.fail(key, "missing")
            return None
        value = self.raw[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {_type_name(value)} {value!r}")
        return value

    def timeout(self) -> float:
        value = self.raw.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            raise self.fail(
                "timeout", f"expected a positive number of seconds, got {_type_name(value)} {value!r}"
            )
        return float(value)

    def secret(self, key: str, env_key: str) -> str | None:
        """A secret given inline (``key``) or as the name of an environment variable (``env_key``)."""
        inline, env = self.string(key), self.string(env_key)
        if inline is not None and env is not None:
            raise self.fail(env_key, f"give either {key} or {env_key}, not both")
        if env is None:
            return inline
        value = os.environ.get(env)
        if not value:
            raise self.fail(env_key, f"environment variable {env} is not set")
        return value

    def call(self, make: Callable[[], Channel]) -> Channel:
        """Build the channel; its own checks (addresses, URL) are reported with the table's name."""
        try:
            return make()
        except ValueError as exc:
            raise ValueError(f"{self.where}: {exc}") from None


def _webhook(raw: object, where: str) -> tuple[Channel, bool]:
    t = _Table(raw, where, _WEBHOOK_KEYS)
    url = t.string("url", required=True)
    assert url is not None
    secret = t.secret("secret", "secret_env")
    timeout = t.timeout()
    name = t.string("name")
    return t.call(lambda: WebhookChannel(url, secret=secret, timeout=timeout, name=name)), name is not None


def _smtp(raw: object, where: str) -> tuple[Channel, bool]:
    t = _Table(raw, where, _SMTP_KEYS)
    host = t.string("host", required=True)
    sender = t.string("sender", required=True)
    assert host is not None and sender is not None
    security = t.raw.get("security", "starttls")
    if security not in SECURITIES:
        raise t.fail("security", f"expected one of {', '.join(SECURITIES)}, got {security!r}")
    port = t.raw.get("port", DEFAULT_SMTP_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise t.fail("port", f"expected an integer 1-65535, got {_type_name(port)} {port!r}")
    recipients = t.raw.get("recipients")
    if recipients is None:
        raise t.fail("recipients", "missing")
    if not isinstance(recipients, list) or not recipients:
        raise t.fail("recipients", f"expected a non-empty array of addresses, got {_type_name(recipients)}")
    for i, r in enumerate(recipients):
        try:
            _split_address(r, "recipient")
        except ValueError:
            raise t.fail(f"recipients[{i}]", f"expected an e-mail address, got {r!r}") from None
    try:
        _split_address(sender, "sender")
    except ValueError:
        raise t.fail("sender", f"expected an e-mail address, got {sender!r}") from None
    username = t.string("username")
    password = t.secret("password", "password_env")
    if username is not None and password is None:
        raise t.fail("username", "needs password or password_env")
    if password is not None and username is None:
        raise t.fail("username", "missing (a password was given)")
    timeout = t.timeout()
    name = t.string("name")
    channel = t.call(
        lambda: SmtpChannel(
            host,
            port,
            sender,
            list(recipients),
            username=username,
            password=password,
            security=security,
            timeout=timeout,
            name=name,
        )
    )
    return channel, name is not None


def channels_from_config(doc: Mapping[str, object]) -> list[Channel]:
    """The channels of a ``[notify]`` table (pass the table, e.g. ``tomllib.load(f).get("notify", {})``).

    ``[[notify.webhook]]``: ``url``, ``secret`` or ``secret_env``, ``timeout``, ``name``;
    ``[[notify.smtp]]``: ``host``, ``port``, ``sender``, ``recipients``, ``username``, ``password`` or
    ``password_env`` (the name of an environment variable holding it), ``security``, ``timeout``, ``name``.
    Unknown keys and wrong types are a ValueError naming the key.  Channels without ``name`` are named after
    their host (``webhook:HOST``, ``smtp:HOST``, then ``#2``, ``#3`` … when a host repeats).
    """
    if not isinstance(doc, Mapping):
        raise ValueError(f"notify: expected a table, got {_type_name(doc)}")
    if "notify" in doc:
        raise ValueError("notify.notify: unknown key (pass the [notify] table, not the whole document)")
    _Table(doc, "notify", ("webhook", "smtp"))
    channels: list[tuple[Channel, bool]] = []
    for kind, make in (("webhook", _webhook), ("smtp", _smtp)):
        tables = doc.get(kind, [])
        if not isinstance(tables, list):
            raise ValueError(
                f"notify.{kind}: expected an array of tables ([[notify.{kind}]]), got {_type_name(tables)}"
            )
        channels += [make(raw, f"notify.{kind}[{i}]") for i, raw in enumerate(tables)]
    seen: set[str] = set()
    for channel, explicit in channels:
        if channel.name in seen:
            if explicit:
                raise ValueError(f"notify: two channels are named {channel.name!r}")
            base, n = channel.name, 2
            while f"{base}#{n}" in seen:
                n += 1
            channel.name = f"{base}#{n}"
        seen.add(channel.name)
    return [channel for channel, _ in channels]
