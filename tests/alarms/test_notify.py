"""Notification channels against real servers: an HTTP server for webhooks, aiosmtpd for e-mail (plain,
STARTTLS with login, implicit TLS), the notifier's retries and shutdown, and the strict configuration."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from envtrust.alarms.notify import (
    Delivery,
    Notice,
    Notifier,
    SmtpChannel,
    WebhookChannel,
    channels_from_config,
)
from envtrust.errors import EnvtrustError, NotifyError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
SECRET = "s3cret-密钥"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook honours the *_proxy variables; the test servers are local."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def make_notice(alarm_id: int = 42, **kw: Any) -> Notice:
    base: dict[str, Any] = dict(
        alarm_id=alarm_id,
        event="open",
        mn="21010012345678",
        pollutant="a21026",
        check="exceedance_hour",
        category="exceedance",
        severity="high",
        message="二氧化硫小时均值 52.3 mg/m³ 超过限值 35 | SO2 hourly average 52.3 mg/m³ above the limit 35",
        start="2026-11-29T08:00:00+08:00",
        end="2026-11-29T09:00:00+08:00",
        point_name="1号锅炉排放口",
        enterprise="某热电有限公司",
        region="210102",
        link="https://envtrust.example.org/alarms/42",
    )
    base.update(kw)
    return Notice(**base)


# --------------------------------------------------------------------------------------------- HTTP server
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Hook:
    """A real HTTP server on 127.0.0.1; ``respond(n, body)`` gives the status of the n-th request (1-based),
    ``None`` holds the answer until ``release`` is set (then 503)."""

    respond: Callable[[int, bytes], int | None]
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 2.0) -> list[Received]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)


@pytest.fixture
def hook_server() -> Iterator[Callable[..., Hook]]:
    servers: list[tuple[ThreadingHTTPServer, threading.Thread, Hook]] = []

    def start(respond: Callable[[int, bytes], int | None] = lambda n, body: 200) -> Hook:
        hook = Hook(respond)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.cond:
                    hook.received.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                    n = len(hook.received)
                    hook.cond.notify_all()
                status = hook.respond(n, body)
                if status is None:
                    hook.release.wait(10)
                    status = 503
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook?access_token=tok"
        servers.append((server, thread, hook))
        return hook

    yield start
    for server, thread, hook in servers:
        hook.release.set()
        server.shutdown()
        server.server_close()
        thread.join(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Results:
    """on_result that records deliveries and lets a test wait for them."""

    def __init__(self) -> None:
        self.items: list[Delivery] = []
        self.times: list[float] = []
        self.cond = threading.Condition()

    def __call__(self, d: Delivery) -> None:
        with self.cond:
            self.items.append(d)
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[list[Delivery]], bool], timeout: float = 2.0) -> list[Delivery]:
        with self.cond:
            assert self.cond.wait_for(lambda: pred(self.items), timeout), self.items
            return list(self.items)


# ------------------------------------------------------------------------------------------------- notice
def test_notice_json_is_every_field_with_type_and_version() -> None:
    n = make_notice()
    doc = n.to_json()
    assert doc["type"] == "envtrust.alarm" and doc["version"] == 1
    assert list(doc)[:2] == ["type", "version"]
    assert {k: v for k, v in doc.items() if k not in ("type", "version")} == {
        "alarm_id": 42,
        "event": "open",
        "mn": "21010012345678",
        "pollutant": "a21026",
        "check": "exceedance_hour",
        "category": "exceedance",
        "severity": "high",
        "message": n.message,
        "start": "2026-11-29T08:00:00+08:00",
        "end": "2026-11-29T09:00:00+08:00",
        "point_name": "1号锅炉排放口",
        "enterprise": "某热电有限公司",
        "region": "210102",
        "escalation_level": 0,
        "link": "https://envtrust.example.org/alarms/42",
    }
    json.dumps(doc)  # plain JSON types only


def test_notice_rejects_unknown_event() -> None:
    with pytest.raises(ValueError, match="event"):
        make_notice(event="close")


def test_subject_and_body_put_chinese_first() -> None:
    n = make_notice(event="escalate", escalation_level=2)
    subject = n.subject()
    assert subject.startswith(
        "【envtrust 报警】1号锅炉排放口 a21026 exceedance_hour 报警升级至第2级（高） | "
    )
    assert "alarm #42 escalated to level 2" in subject
    body = n.body()
    zh, en = body.index("点位：1号锅炉排放口（MN 21010012345678）"), body.index("Point: 1号锅炉排放口")
    assert zh < en
    assert "说明：二氧化硫小时均值 52.3 mg/m³ 超过限值 35\n" in body
    assert "Message: SO2 hourly average 52.3 mg/m³ above the limit 35\n" in body
    assert body.index("说明：") < body.index("Message:")
    assert "企业：某热电有限公司" in body and "升级级别：2" in body and "Escalation level: 2" in body
    assert "详情：https://envtrust.example.org/alarms/42" in body


def test_subject_is_one_line_and_falls_back_to_mn() -> None:
    n = make_notice(point_name="", pollutant=None, message="只有中文\r\n第二行", event="reactivate")
    assert n.subject().startswith("【envtrust 报警】21010012345678 exceedance_hour 报警再次触发（高）")
    assert "\n" not in make_notice(point_name="排放口\r\nBcc: x@example.org").subject()
    body = n.body()
    assert "说明：只有中文" in body and "Message: 只有中文" in body  # not bilingual: the whole text in both


# ---------------------------------------------------------------------------------------------- webhooks
def test_webhook_posts_signed_utf8_json(hook_server: Callable[..., Hook]) -> None:
    hook = hook_server()
    n = make_notice()
    WebhookChannel(hook.url, secret=SECRET).send(n)
    (got,) = hook.wait_for(1)
    assert got.path == "/hook?access_token=tok"
    assert got.json() == n.to_json()
    assert "1号锅炉排放口".encode() in got.body and "超过限值".encode() in got.body  # UTF-8, not \\u escapes
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["X-Envtrust-Event"] == "open"
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Envtrust-Signature"] == f"sha256={expected}"


def test_webhook_without_secret_is_unsigned(hook_server: Callable[..., Hook]) -> None:
    hook = hook_server()
    channel = WebhookChannel(hook.url)
    assert channel.name == f"webhook:127.0.0.1:{urlsplit(hook.url).port}"  # not the path: it has a token
    channel.send(make_notice(event="reactivate"))
    (got,) = hook.wait_for(1)
    assert "X-Envtrust-Signature" not in got.headers
    assert got.headers["X-Envtrust-Event"] == "reactivate"


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (404, False), (302, False)]
)
def test_webhook_non_2xx_is_an_error_with_the_status(
    hook_server: Callable[..., Hook], status: int, retryable: bool
) -> None:
    hook = hook_server(lambda n, body: status)
    with pytest.raises(NotifyError) as err:
        WebhookChannel(hook.url).send(make_notice())
    assert err.value.status == status and err.value.retryable is retryable
    assert f"HTTP {status}" in str(err.value) and "tok" not in str(err.value)
    assert isinstance(err.value, EnvtrustError)
    assert len(hook.wait_for(1)) == 1  # a redirect is not followed


def test_webhook_unreachable_is_retryable() -> None:
    with pytest.raises(NotifyError) as err:
        WebhookChannel(f"http://127.0.0.1:{free_port()}/hook", timeout=1).send(make_notice())
    assert err.value.status is None and err.value.retryable


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "http:///nohost", "example.org"])
def test_webhook_needs_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookChannel(url)


# ---------------------------------------------------------------------------------------------- notifier
def test_server_error_twice_then_delivered_on_third_attempt(hook_server: Callable[..., Hook]) -> None:
    hook = hook_server(lambda n, body: 500 if n <= 2 else 200)
    results = Results()
    with Notifier([WebhookChannel(hook.url, secret=SECRET)], on_result=results, backoff_s=0.01) as notifier:
        notifier.submit(make_notice())
        assert notifier.flush(2)
    (d,) = results.items
    assert d.ok and d.attempts == 3 and d.error is None and d.channel.startswith("webhook:127.0.0.1")
    got = hook.wait_for(3)
    assert len({r.body for r in got}) == 1  # a retry sends the same bytes
    assert len({r.headers["X-Envtrust-Signature"] for r in got}) == 1


def test_retries_give_up_after_max_attempts_and_4xx_at_once(hook_server: Callable[..., Hook]) -> None:
    failing, missing = hook_server(lambda n, body: 500), hook_server(lambda n, body: 404)
    results = Results()
    channels = [WebhookChannel(failing.url, name="failing"), WebhookChannel(missing.url, name="missing")]
    with Notifier(channels, on_result=results, max_attempts=3, backoff_s=0.01) as notifier:
        notifier.submit(make_notice())
        assert notifier.flush(2)
    by = {d.channel: d for d in results.items}
    assert (by["failing"].ok, by["failing"].attempts) == (False, 3) and "HTTP 500" in str(by["failing"].error)
    assert (by["missing"].ok, by["missing"].attempts) == (False, 1) and "HTTP 404" in str(by["missing"].error)
    assert len(failing.received) == 3 and len(missing.received) == 1


def test_failing_channel_does_not_delay_another(hook_server: Callable[..., Hook]) -> None:
    hanging = hook_server(lambda n, body: None)  # answers only when released
    broken = hook_server(lambda n, body: 500)
    good = hook_server()
    results = Results()
    channels = [
        WebhookChannel(hanging.url, name="hanging", timeout=5),
        WebhookChannel(broken.url, name="broken"),
        WebhookChannel(good.url, name="good"),
    ]
    notifier = Notifier(channels, on_result=results, max_attempts=2, backoff_s=0.05)
    t0 = time.monotonic()
    for i in range(3):
        notifier.submit(make_notice(alarm_id=i))
    got = good.wait_for(3, timeout=1)
    assert max(r.at for r in got) - t0 < 0.5
    assert [r.json()["alarm_id"] for r in got] == [0, 1, 2]
    results.wait_for(lambda items: sum(d.channel == "good" for d in items) == 3)
    hanging.release.set()
    assert notifier.flush(2)
    notifier.close(1)
    assert all(d.ok for d in results.items if d.channel == "good")
    assert not any(d.ok for d in results.items if d.channel != "good")
    assert len(results.items) == 9


def test_a_notice_waiting_for_its_retry_does_not_hold_up_newer_ones(hook_server: Callable[..., Hook]) -> None:
    hook = hook_server(lambda n, body: 500 if json.loads(body)["alarm_id"] == 1 else 200)
    results = Results()
    with Notifier([WebhookChannel(hook.url)], on_result=results, max_attempts=2, backoff_s=0.4) as notifier:
        t0 = time.monotonic()
        notifier.submit(make_notice(alarm_id=1))
        hook.wait_for(1)
        notifier.submit(make_notice(alarm_id=2))
        results.wait_for(lambda items: len(items) == 1)
        assert results.items[0].notice.alarm_id == 2 and results.items[0].ok
        assert results.times[0] - t0 < 0.3  # before the first notice's retry is due
        assert notifier.flush(2)
    first = results.items[1]
    assert first.notice.alarm_id == 1 and not first.ok and first.attempts == 2


def test_close_reports_pending_retries_as_shutdown(hook_server: Callable[..., Hook]) -> None:
    hook = hook_server(lambda n, body: 500)
    results = Results()
    notifier = Notifier([WebhookChannel(hook.url)], on_result=results, backoff_s=30)
    notifier.submit(make_notice(alarm_id=1))
    notifier.submit(make_notice(alarm_id=2))
    hook.wait_for(2)
    t0 = time.monotonic()
    notifier.close(timeout=2)
    assert time.monotonic() - t0 < 0.5
    items = results.wait_for(lambda items: len(items) == 2)
    assert sorted(d.notice.alarm_id for d in items) == [1, 2]
    assert all(not d.ok and d.error == "shutdown" and d.attempts == 1 for d in items)
    assert notifier.flush(0)
    with pytest.raises(RuntimeError, match="closed"):
        notifier.submit(make_notice())


def test_a_failing_result_handler_does_not_stop_the_notifier(
    hook_server: Callable[..., Hook], caplog: pytest.LogCaptureFixture
) -> None:
    hook = hook_server()
    seen: list[int] = []

    def on_result(d: Delivery) -> None:
        seen.append(d.notice.alarm_id)
        if d.notice.alarm_id == 1:
            raise RuntimeError("database is down")

    with Notifier([WebhookChannel(hook.url)], on_result=on_result) as notifier:
        notifier.submit(make_notice(alarm_id=1))
        assert notifier.flush(2)
        notifier.submit(make_notice(alarm_id=2))
        assert notifier.flush(2)
    assert seen == [1, 2]
    assert "result handler failed" in caplog.text


def test_notifier_checks_its_arguments() -> None:
    a, b = WebhookChannel("http://127.0.0.1:9/a"), WebhookChannel("http://127.0.0.1:9/b")
    with pytest.raises(ValueError, match="unique"):
        Notifier([a, b])
    with pytest.raises(ValueError, match="max_attempts"):
        Notifier([a], max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        Notifier([a], backoff_s=-1)


# ----------------------------------------------------------------------------------------------- e-mail
@dataclass
class Sink:
    """aiosmtpd handler keeping every accepted mail; ``refuse`` answers 550 to those recipients."""

    refuse: set[str] = field(default_factory=set)
    mails: list[Any] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alarm", b"pw-2026!")
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 and the contexts of both sides."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envtrust test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (d / "cert.pem").write_bytes(cert_pem)
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "cert.pem", d / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Tls(server, client)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Sink, int]]]:
    controllers: list[Controller] = []

    def start(sink: Sink | None = None, **kw: Any) -> tuple[Sink, int]:
        sink = sink or Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **kw)
        controller.start()
        controllers.append(controller)
        return sink, port

    yield start
    for c in controllers:
        c.stop()


def parse(envelope: Any) -> email.message.EmailMessage:
    msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_smtp_delivers_chinese_subject_and_body(smtp_server: Callable[..., tuple[Sink, int]]) -> None:
    sink, port = smtp_server()
    n = make_notice()
    channel = SmtpChannel(
        "127.0.0.1",
        port,
        "envtrust 报警 <alarm@envtrust.example.org>",
        ["duty@epb.example.cn", "王科长 <wang@epb.example.cn>"],
        security="none",
    )
    channel.send(n)
    (mail,) = sink.mails
    assert mail.mail_from == "alarm@envtrust.example.org"
    assert mail.rcpt_tos == ["duty@epb.example.cn", "wang@epb.example.cn"]
    raw = mail.original_content
    assert b"=?utf-8?" in raw and "报警".encode() not in raw  # headers and body are 7-bit on the wire
    msg = parse(mail)
    assert msg["Subject"] == n.subject()
    assert msg["From"].addresses[0].display_name == "envtrust 报警"
    assert [a.addr_spec for a in msg["To"].addresses] == ["duty@epb.example.cn", "wang@epb.example.cn"]
    assert msg["X-Envtrust-Event"] == "open" and msg["X-Envtrust-Alarm"] == "42"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content() == n.body()


def test_smtp_starttls_with_login(smtp_server: Callable[..., tuple[Sink, int]], tls: Tls) -> None:
    sink = Sink()
    _, port = smtp_server(
        sink, tls_context=tls.server, require_starttls=True, authenticator=sink.authenticate
    )
    n = make_notice(event="escalate", escalation_level=1)
    args = ("127.0.0.1", port, "alarm@envtrust.example.org", ["duty@epb.example.cn"])
    SmtpChannel(*args, username="alarm", password="pw-2026!", context=tls.client).send(n)
    assert sink.logins == [b"alarm"]
    assert parse(sink.mails[0])["Subject"] == n.subject()

    with pytest.raises(NotifyError) as err:
        SmtpChannel(*args, username="alarm", password="wrong", context=tls.client).send(n)
    assert err.value.status == 535 and not err.value.retryable
    with pytest.raises(NotifyError) as err:  # the system trust store does not know the test certificate
        SmtpChannel(*args, username="alarm", password="pw-2026!").send(n)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert len(sink.mails) == 1


def test_smtp_implicit_tls(smtp_server: Callable[..., tuple[Sink, int]], tls: Tls) -> None:
    sink, port = smtp_server(ssl_context=tls.server)
    n = make_notice()
    SmtpChannel(
        "127.0.0.1",
        port,
        "alarm@envtrust.example.org",
        ["duty@epb.example.cn"],
        security="ssl",
        context=tls.client,
    ).send(n)
    assert parse(sink.mails[0]).get_content() == n.body()


def test_smtp_starttls_not_offered_is_not_retried(smtp_server: Callable[..., tuple[Sink, int]]) -> None:
    sink, port = smtp_server()
    with pytest.raises(NotifyError, match="STARTTLS") as err:
        SmtpChannel("127.0.0.1", port, "alarm@envtrust.example.org", ["duty@epb.example.cn"]).send(
            make_notice()
        )
    assert not err.value.retryable and not sink.mails


def test_smtp_refused_recipients(smtp_server: Callable[..., tuple[Sink, int]]) -> None:
    sink, port = smtp_server(Sink(refuse={"gone@epb.example.cn"}))
    some = SmtpChannel(
        "127.0.0.1",
        port,
        "alarm@envtrust.example.org",
        ["gone@epb.example.cn", "duty@epb.example.cn"],
        security="none",
    )
    with pytest.raises(NotifyError, match=r"some recipients refused.*gone@epb\.example\.cn") as err:
        some.send(make_notice())
    assert not err.value.retryable  # the other recipient has it: a retry would send it twice
    assert [m.rcpt_tos for m in sink.mails] == [["duty@epb.example.cn"]]
    every = SmtpChannel(
        "127.0.0.1", port, "alarm@envtrust.example.org", ["gone@epb.example.cn"], security="none"
    )
    with pytest.raises(NotifyError, match="every recipient refused") as err:
        every.send(make_notice())
    assert err.value.status == 550 and not err.value.retryable


def test_smtp_unreachable_is_retryable() -> None:
    channel = SmtpChannel(
        "127.0.0.1", free_port(), "a@example.org", ["b@example.org"], security="none", timeout=1
    )
    with pytest.raises(NotifyError) as err:
        channel.send(make_notice())
    assert err.value.retryable and err.value.status is None


def test_smtp_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="recipients"):
        SmtpChannel("mail.example.org", 25, "a@example.org", "b@example.org")
    with pytest.raises(ValueError, match="recipient"):
        SmtpChannel("mail.example.org", 25, "a@example.org", ["not an address"])
    with pytest.raises(ValueError, match="security"):
        SmtpChannel("mail.example.org", 25, "a@example.org", ["b@example.org"], security="tls")
    with pytest.raises(ValueError, match="together"):
        SmtpChannel("mail.example.org", 25, "a@example.org", ["b@example.org"], username="u")
    with pytest.raises(ValueError, match="ASCII"):
        SmtpChannel("mail.example.org", 25, "a@example.org", ["b@example.org"], username="u", password="口令")


# ------------------------------------------------------------------------------------------ configuration
def test_channels_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVTRUST_TEST_SMTP_PW", "pw")
    doc = tomllib.loads(
        """
        [[notify.webhook]]
        url = "https://hooks.example.org/envtrust?token=abc"
        secret = "k"
        timeout = 5

        [[notify.webhook]]
        url = "https://hooks.example.org/other"

        [[notify.smtp]]
        host = "smtp.example.org"
        sender = "envtrust <alarm@example.org>"
        recipients = ["duty@example.org"]
        username = "alarm"
        password_env = "ENVTRUST_TEST_SMTP_PW"
        security = "ssl"
        name = "duty-mail"
        """
    )
    hook1, hook2, mail = channels_from_config(doc["notify"])
    assert isinstance(hook1, WebhookChannel) and isinstance(hook2, WebhookChannel)
    assert (hook1.name, hook2.name) == ("webhook:hooks.example.org", "webhook:hooks.example.org#2")
    assert hook1.timeout == 5.0 and hook2.timeout == 10.0
    assert hook1.signature(b"x") == "sha256=" + hmac.new(b"k", b"x", hashlib.sha256).hexdigest()
    assert hook2.signature(b"x") is None
    assert isinstance(mail, SmtpChannel)
    assert (mail.name, mail.port, mail.security, mail.username) == ("duty-mail", 465, "ssl", "alarm")
    assert channels_from_config({}) == []
    plain = channels_from_config({"smtp": [{"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"]}]})[0]
    assert isinstance(plain, SmtpChannel) and (plain.port, plain.security) == (587, "starttls")


SMTP = {"host": "smtp.example.org", "sender": "alarm@example.org", "recipients": ["duty@example.org"]}
HOOK = {"url": "https://hooks.example.org/x"}


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"webhooks": [HOOK]}, "notify.webhooks"),
        ({"webhook": HOOK}, "notify.webhook"),
        ({"webhook": ["x"]}, "notify.webhook[0]"),
        ({"webhook": [{**HOOK, "retries": 3}]}, "notify.webhook[0].retries"),
        ({"webhook": [{}]}, "notify.webhook[0].url"),
        ({"webhook": [{"url": 1}]}, "notify.webhook[0].url"),
        ({"webhook": [{"url": "ftp://example.org/"}]}, "notify.webhook[0]"),
        ({"webhook": [{**HOOK, "timeout": "10"}]}, "notify.webhook[0].timeout"),
        ({"webhook": [{**HOOK, "timeout": True}]}, "notify.webhook[0].timeout"),
        ({"webhook": [{**HOOK, "timeout": 0}]}, "notify.webhook[0].timeout"),
        ({"webhook": [{**HOOK, "secret": 123}]}, "notify.webhook[0].secret"),
        ({"webhook": [HOOK, {**HOOK, "secret": ""}]}, "notify.webhook[1].secret"),
        ({"smtp": [{**SMTP, "port": "25"}]}, "notify.smtp[0].port"),
        ({"smtp": [{**SMTP, "port": True}]}, "notify.smtp[0].port"),
        ({"smtp": [{**SMTP, "port": 70000}]}, "notify.smtp[0].port"),
        ({"smtp": [{**SMTP, "security": "tls"}]}, "notify.smtp[0].security"),
        ({"smtp": [{**SMTP, "recipients": "duty@example.org"}]}, "notify.smtp[0].recipients"),
        ({"smtp": [{**SMTP, "recipients": []}]}, "notify.smtp[0].recipients"),
        ({"smtp": [{**SMTP, "recipients": ["duty@example.org", "duty"]}]}, "notify.smtp[0].recipients[1]"),
        ({"smtp": [{k: v for k, v in SMTP.items() if k != "sender"}]}, "notify.smtp[0].sender"),
        ({"smtp": [{**SMTP, "sender": "alarm"}]}, "notify.smtp[0].sender"),
        ({"smtp": [{**SMTP, "username": "u"}]}, "notify.smtp[0].username"),
        ({"smtp": [{**SMTP, "password": "p"}]}, "notify.smtp[0].username"),
        (
            {"smtp": [{**SMTP, "username": "u", "password": "p", "password_env": "X"}]},
            "notify.smtp[0].password_env",
        ),
        (
            {"smtp": [{**SMTP, "username": "u", "password_env": "ENVTRUST_TEST_UNSET"}]},
            "notify.smtp[0].password_env",
        ),
        ({"smtp": [{**SMTP, "tls": True}]}, "notify.smtp[0].tls"),
        (
            {"smtp": [{**SMTP, "username": "u", "password": "口令"}]},
            "notify.smtp[0]: smtp username and password",
        ),
        ({"smtp": [{**SMTP, "name": "a"}], "webhook": [{**HOOK, "name": "a"}]}, "'a'"),
        ({"notify": {"webhook": [HOOK]}}, "not the whole document"),
    ],
)
def test_channels_from_config_is_strict(
    doc: dict[str, Any], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVTRUST_TEST_UNSET", raising=False)
    with pytest.raises(ValueError) as err:
        channels_from_config(doc)
    assert key in str(err.value)
    assert str(err.value).startswith(key) or not key.startswith("notify.")


# ------------------------------------------------------------------------------------------- the document
def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def test_documented_configuration_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVTRUST_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("ENVTRUST_WEBHOOK_SECRET", "k")
    (toml,) = _blocks("toml")
    channels = channels_from_config(tomllib.loads(toml)["notify"])
    assert {type(c) for c in channels} == {WebhookChannel, SmtpChannel}


def test_documented_example_body_and_signature_check() -> None:
    example = json.loads(_blocks("json")[0])
    notice = Notice(**{k: v for k, v in example.items() if k not in ("type", "version")})
    assert notice.to_json() == example
    channel = WebhookChannel("https://hooks.example.org/x", secret=SECRET)
    body = channel.payload(notice)
    header = channel.signature(body)
    assert header is not None
    namespace: dict[str, Any] = {}
    exec(_blocks("python")[0], namespace)
    assert namespace["signature_ok"](body, header, SECRET)
    assert not namespace["signature_ok"](body + b" ", header, SECRET)
    assert not namespace["signature_ok"](body, header, "other")
