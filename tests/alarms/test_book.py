"""The alarm book on a real database: findings → alarms, the lifecycle, people's actions, escalation, the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envtrust.alarms.book import AlarmBook, AlarmPolicy, alarm_json
from envtrust.alarms.notify import Delivery, Notice
from envtrust.errors import AlarmError
from envtrust.qc import Finding
from envtrust.qc.stream import Evaluation
from envtrust.registry import load_registry
from envtrust.store import Store, open_store
from envtrust.verify import verify

GAS_MN = "21010012345678"  # the points of the shared registry fixture (tests/conftest.py)
WATER_MN = "21010087654321"

H = 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
CHECKS = ("flat_line", "exceedance_hour", "reception_gap")


def flat(start: int, end: int, mn: str = GAS_MN, severity: str = "high") -> Finding:
    return Finding(
        mn, "a21026", "flat_line", "tampering", severity, start, end, "恒值 | constant", {"value": 12.0}
    )


def ev(*findings: Finding, until: int, mn: str = GAS_MN) -> Evaluation:
    return Evaluation(mn, list(findings), CHECKS, until)


@pytest.fixture
def store(db_url: str, registry_file: Path) -> Store:
    st = open_store(db_url)
    st.load_registry(load_registry(registry_file))
    yield st
    st.close()


def test_a_finding_opens_one_alarm_and_repeats_do_not(store: Store) -> None:
    book = AlarmBook(store)
    size0 = store.ledger_size()
    got = book.apply([ev(flat(T0, T0 + H), until=T0 + H)])
    assert got.opened == 1
    assert store.ledger_size() == size0 + 1
    # the same window evaluated again (streaming re-reads its window): nothing new
    again = book.apply([ev(flat(T0, T0 + H), until=T0 + H + 60)])
    assert (again.opened, again.updated) == (0, 0)
    [a] = store.alarms()
    assert (a["state"], a["acked"], a["closed"], a["findings"]) == ("active", False, False, 1)
    # the run goes on: the same alarm is extended, not a second one
    longer = book.apply([ev(flat(T0, T0 + 2 * H), until=T0 + 2 * H)])
    assert (longer.opened, longer.updated) == (0, 1)
    [a] = store.alarms()
    assert (a["start_time"], a["end_time"], a["findings"]) == (T0, T0 + 2 * H, 2)
    assert [e["action"] for e in store.alarm_events(a["id"])] == ["open", "update"]
    shown = alarm_json(a)
    assert shown["check"] == "flat_line" and shown["start"] == "2026-01-01T08:00:00+08:00"


def test_condition_gone_clears_and_acknowledged_cleared_alarm_closes(store: Store) -> None:
    book = AlarmBook(store, AlarmPolicy(clear_after_s=H))
    book.apply([ev(flat(T0, T0 + H), until=T0 + H)])
    # data went on for less than clear_after_s: still active
    assert book.apply([ev(until=T0 + H + 1800)]).cleared == 0
    # another check's evaluation does not clear it
    other = Evaluation(GAS_MN, [], ("spike",), T0 + 5 * H)
    assert book.apply([other]).cleared == 0
    assert book.apply([ev(until=T0 + 2 * H)]).cleared == 1
    [a] = store.alarms()
    assert (a["state"], a["closed"]) == ("cleared", False)  # stays in the inbox until acknowledged
    book.acknowledge(a["id"], "值班员 张三", "已通知企业")
    assert store.alarms() == []
    [closed] = store.alarms(closed=True)
    assert closed["acked"] and closed["closed"]
    # the old finding re-read from the window does not reopen anything; a new occurrence opens a new alarm
    assert book.apply([ev(flat(T0, T0 + H), until=T0 + 3 * H)]).opened == 0
    assert book.apply([ev(flat(T0 + 3 * H, T0 + 4 * H), until=T0 + 4 * H)]).opened == 1
    assert len(store.alarms(closed=None)) == 2


def test_a_cleared_alarm_comes_back_unacknowledged(store: Store) -> None:
    book = AlarmBook(store, AlarmPolicy(clear_after_s=H))
    book.apply([ev(flat(T0, T0 + H, severity="medium"), until=T0 + H)])
    book.apply([ev(until=T0 + 2 * H)])
    [a] = store.alarms()
    got = book.apply([ev(flat(T0 + 2 * H, T0 + 3 * H, severity="high"), until=T0 + 3 * H)])
    assert got.reactivated == 1 and got.opened == 0
    [a] = store.alarms()
    assert (a["state"], a["acked"], a["severity"]) == ("active", False, "high")
    assert [e["action"] for e in store.alarm_events(a["id"])] == ["open", "clear", "reactivate"]


def test_one_open_alarm_per_point_pollutant_and_check(store: Store) -> None:
    book = AlarmBook(store)
    so2 = flat(T0, T0 + H)
    nox = Finding(GAS_MN, "a21002", "flat_line", "tampering", "high", T0, T0 + H, "m", {})
    water = flat(T0, T0 + H, mn=WATER_MN)
    gap = Finding(GAS_MN, None, "reception_gap", "validity", "low", T0, T0 + H, "gap", {})
    book.apply([ev(so2, nox, gap, until=T0 + H), ev(water, until=T0 + H, mn=WATER_MN)])
    keys = sorted((a["mn"], a["pollutant"], a["check_name"]) for a in store.alarms())
    assert keys == [
        (GAS_MN, "", "reception_gap"),
        (GAS_MN, "a21002", "flat_line"),
        (GAS_MN, "a21026", "flat_line"),
        (WATER_MN, "a21026", "flat_line"),
    ]
    assert store.alarm_count(mn=GAS_MN) == 3


def test_peoples_actions_are_ledgered_and_checked(store: Store) -> None:
    book = AlarmBook(store)
    book.apply([ev(flat(T0, T0 + H), until=T0 + H)])
    [a] = store.alarms()
    size = store.ledger_size()
    book.assign(a["id"], "科长 李四", "执法大队 王五")
    book.comment(a["id"], "执法大队 王五", "明日现场检查")
    book.acknowledge(a["id"], "执法大队 王五")
    with pytest.raises(AlarmError, match="already acknowledged"):
        book.acknowledge(a["id"], "someone")
    with pytest.raises(AlarmError, match="needs a reason"):
        book.clear(a["id"], "someone", "  ")
    with pytest.raises(AlarmError, match="no alarm 999"):
        book.comment(999, "someone", "text")
    with pytest.raises(AlarmError, match="who takes it"):
        book.comment(a["id"], " ", "text")
    book.clear(a["id"], "执法大队 王五", "现场核实：分析仪故障已修复")
    assert store.ledger_size() == size + 4
    events = store.alarm_events(a["id"])
    assert [(e["action"], e["who"]) for e in events][1:] == [
        ("assign", "科长 李四"),
        ("comment", "执法大队 王五"),
        ("ack", "执法大队 王五"),
        ("clear", "执法大队 王五"),
    ]
    assert json.loads(events[-1]["detail"]) == {"reason": "现场核实：分析仪故障已修复"}
    [closed] = store.alarms(closed=True)
    assert closed["assignee"] == "执法大队 王五"
    with pytest.raises(AlarmError, match="closed"):
        book.assign(a["id"], "x", "y")
    assert verify(store, None).ok


def test_an_altered_alarm_event_or_alarm_row_fails_verification(store: Store) -> None:
    book = AlarmBook(store)
    book.apply([ev(flat(T0, T0 + H), until=T0 + H)])
    [a] = store.alarms()
    book.acknowledge(a["id"], "张三")
    assert verify(store, None).ok
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alarm_events SET who = '李四' WHERE action = 'ack'")
    report = verify(store, None)
    assert not report.ok and "alarm_events row" in str(report)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alarm_events SET who = '张三' WHERE action = 'ack'")
        conn.exec_driver_sql("UPDATE alarms SET acked = false")
    report = verify(store, None)
    assert not report.ok and f"alarm {a['id']}" in str(report)


def test_unacknowledged_alarms_escalate_and_notify(store: Store, registry_file: Path) -> None:
    points = {p.mn: p for p in load_registry(registry_file)}
    notices: list[Notice] = []
    book = AlarmBook(
        store,
        AlarmPolicy(escalate_after_s=600, max_escalation=2, notify_severity="medium"),
        points=points.get,
        notify=notices.append,
        link=lambda i: f"https://envtrust.example/alarms/{i}",
    )
    book.apply(
        [
            ev(
                flat(T0, T0 + H),
                Finding(GAS_MN, None, "reception_gap", "validity", "low", T0, T0 + H, "gap", {}),
                until=T0 + H,
            )
        ]
    )
    # only the alarm of at least medium severity is notified
    assert [(n.event, n.check, n.point_name) for n in notices] == [("open", "flat_line", "1号锅炉排放口")]
    assert notices[0].link and notices[0].link.endswith(str(notices[0].alarm_id))
    assert notices[0].start == "2026-01-01T08:00:00+08:00"
    [a] = store.alarms(check="flat_line")
    raised = a["raised_us"]
    assert book.escalate_due(now_us=raised + 599_000_000).escalated == 0
    # both alarms escalate; only the one of at least medium severity is notified
    assert book.escalate_due(now_us=raised + 601_000_000).escalated == 2
    assert book.escalate_due(now_us=raised + 3_000_000_000).escalated == 2  # capped at max_escalation
    assert book.escalate_due(now_us=raised + 9_000_000_000).escalated == 0
    assert store.alarm(a["id"])["escalation"] == 2
    assert [(n.event, n.escalation_level) for n in notices[1:]] == [("escalate", 1), ("escalate", 2)]
    # an acknowledged alarm does not escalate; deliveries are kept with the alarm
    book.record_delivery(Delivery(notices[0], "webhook:duty", True, 1, None))
    assert store.alarm_events(a["id"])[-1]["action"] == "notify"


def test_policy_from_config_is_strict() -> None:
    p = AlarmPolicy.from_config({"clear_after_min": 30, "escalate_after_min": 15, "notify_severity": "high"})
    assert (p.clear_after_s, p.escalate_after_s, p.notify_severity) == (1800, 900, "high")
    for bad, msg in (
        ({"clear_after": 3}, "unknown key"),
        ({"clear_after_min": -1}, "positive"),
        ({"max_escalation": 1.5}, "whole number"),
        ({"notify_severity": "urgent"}, "one of"),
    ):
        with pytest.raises(AlarmError, match=msg):
            AlarmPolicy.from_config(bad)
