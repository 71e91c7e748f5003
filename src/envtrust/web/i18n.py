"""The pages' words in Chinese (the default) and English.

One catalogue, keyed by a short English id; every key has both languages (a test reads every template and
checks that each key it uses is here).  Pollutant, flag and check names come from their own tables
(:mod:`envtrust.hj212.codes`, :data:`envtrust.qc.CATALOGUE`), which carry both languages already.
"""

from __future__ import annotations

from collections.abc import Callable

from ..hj212.codes import DATA_FLAGS, POLLUTANTS
from ..qc import CATALOGUE

__all__ = ["DEFAULT", "LANGS", "MESSAGES", "check_title", "flag_text", "pollutant_label", "translator"]

LANGS = ("zh", "en")
DEFAULT = "zh"

MESSAGES: dict[str, tuple[str, str]] = {
    # frame and navigation
    "app": ("envtrust 监测数据可信平台", "envtrust monitoring data you can trust"),
    "nav.overview": ("24小时总览", "24 h overview"),
    "nav.alarms": ("报警", "Alarms"),
    "nav.ledger": ("账本", "Ledger"),
    "nav.public": ("信息公开", "Public portal"),
    "nav.qa": ("质控", "Quality"),
    "nav.api": ("API 文档", "API docs"),
    "nav.login": ("登录", "Log in"),
    "nav.logout": ("退出", "Log out"),
    "lang.switch": ("English", "中文"),
    "role.admin": ("管理员", "administrator"),
    "role.regulator": ("监管人员", "regulator"),
    "role.inspector": ("执法检查人员", "inspector"),
    "role.discipline": ("纪检监察", "discipline inspection"),
    "role.enterprise": ("排污单位", "enterprise"),
    "role.operator": ("运维人员", "equipment operator"),
    "role.lab": ("实验室", "laboratory"),
    "role.public": ("公众", "public"),
    "medium.gas": ("废气", "flue gas"),
    "medium.water": ("废水", "waste water"),
    "medium.ambient": ("环境空气", "ambient air"),
    "medium.noise": ("噪声", "noise"),
    # login
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login.throttled": ("登录失败次数过多，请稍后再试。", "Too many failed logins: try again later."),
    "login.expired": ("会话已结束，请重新登录。", "Your session has ended: please log in again."),
    "login.public_hint": ("公众无需登录即可查看", "The public needs no account for"),
    # overview
    "ov.title": ("24小时值守总览", "24-hour duty overview"),
    "ov.points": ("监测点位", "points"),
    "ov.online": ("在线", "online"),
    "ov.offline": ("离线", "offline"),
    "ov.nodata": ("从未收到数据", "never sent data"),
    "ov.exceeding": ("超标", "exceeding"),
    "ov.open_alarms": ("未关闭报警", "open alarms"),
    "ov.unacked": ("未确认", "unacknowledged"),
    "ov.filter": ("筛选", "Filter"),
    "ov.region": ("行政区划", "Region"),
    "ov.medium": ("类型", "Medium"),
    "ov.status": ("状态", "Status"),
    "ov.search": ("企业或点位名称", "Enterprise or point name"),
    "ov.all": ("全部", "all"),
    "ov.enterprise": ("企业", "Enterprise"),
    "ov.point": ("点位", "Point"),
    "ov.last_data": ("最新数据", "Last data"),
    "ov.values": ("当前值 / 限值", "Current value / limit"),
    "ov.alarms": ("报警", "Alarms"),
    "ov.none": ("没有符合条件的点位。", "No point matches."),
    "ov.refreshed": ("自动刷新", "refreshes itself"),
    "ov.ago_s": ("{n} 秒前", "{n} s ago"),
    "ov.ago_min": ("{n} 分钟前", "{n} min ago"),
    "ov.ago_h": ("{n} 小时前", "{n} h ago"),
    "ov.ago_d": ("{n} 天前", "{n} days ago"),
    "ov.converted": ("折算值", "converted value"),
    "ov.received": ("最近接收", "last received"),
    # point detail
    "pt.title": ("点位详情", "Point"),
    "pt.region": ("行政区划", "Region"),
    "pt.medium": ("类型", "Medium"),
    "pt.ref_o2": ("基准含氧量", "Reference O₂"),
    "pt.limits": ("排放限值", "Limits"),
    "pt.kind": ("数据类型", "Data"),
    "pt.kind.rtd": ("实时", "real-time"),
    "pt.kind.minute": ("分钟", "minute"),
    "pt.kind.hour": ("小时", "hour"),
    "pt.kind.day": ("日", "day"),
    "pt.span": ("时段", "Span"),
    "pt.live": ("实时更新", "live"),
    "pt.value": ("监测值", "measured"),
    "pt.converted": ("折算值", "converted"),
    "pt.limit": ("限值", "limit"),
    "pt.flagged": ("非正常标记", "flagged"),
    "pt.finding": ("报警时段", "alarm period"),
    "pt.no_data": ("该时段没有数据。", "No data in this span."),
    "pt.alarms": ("该点位的报警", "Alarms of this point"),
    "pt.export": ("导出", "Export"),
    "pt.loading": ("加载中…", "loading…"),
    "pt.not_readable": (
        "您的账户只能查看该点位公开的小时和日数据。",
        "Your account may see only this point's disclosed hourly and daily data.",
    ),
    # alarms
    "al.title": ("报警收件箱", "Alarm inbox"),
    "al.state": ("状态", "State"),
    "al.state.active": ("活动", "active"),
    "al.state.cleared": ("已恢复", "cleared"),
    "al.closed": ("已关闭", "closed"),
    "al.acked": ("已确认", "acknowledged"),
    "al.unacked": ("未确认", "unacknowledged"),
    "al.category": ("类别", "Category"),
    "cat.exceedance": ("超标", "exceedance"),
    "cat.validity": ("数据有效性", "validity"),
    "cat.anomaly": ("异常", "anomaly"),
    "cat.tampering": ("疑似造假", "suspected tampering"),
    "al.severity": ("级别", "Severity"),
    "al.check": ("规则", "Check"),
    "al.period": ("时段", "Period"),
    "al.message": ("说明", "Message"),
    "al.assignee": ("负责人", "Assignee"),
    "al.escalation": ("升级次数", "Escalations"),
    "al.opened": ("产生时间", "Opened"),
    "al.findings": ("发现次数", "Findings"),
    "al.include_closed": ("含已关闭", "include closed"),
    "al.total": ("共 {n} 条", "{n} in all"),
    "al.none": ("没有报警。", "No alarms."),
    "al.ack": ("确认", "Acknowledge"),
    "al.clear": ("手动恢复", "Clear"),
    "al.assign": ("指派", "Assign"),
    "al.comment": ("备注", "Comment"),
    "al.reason": ("原因", "Reason"),
    "al.history": ("处理记录", "History"),
    "al.evidence": ("证据", "Evidence"),
    "al.who": ("操作人", "Who"),
    "al.when": ("时间", "When"),
    "al.action": ("操作", "Action"),
    "al.detail": ("详情", "Details"),
    "al.done": ("已记录并写入账本。", "Recorded in the ledger."),
    "al.prev": ("上一页", "Previous"),
    "al.next": ("下一页", "Next"),
    "al.not_allowed": ("您的角色不能执行此操作。", "Your role cannot do this."),
    "ev.open": ("产生", "opened"),
    "ev.update": ("延续", "extended"),
    "ev.reactivate": ("再次触发", "reactivated"),
    "ev.ack": ("确认", "acknowledged"),
    "ev.clear": ("恢复", "cleared"),
    "ev.assign": ("指派", "assigned"),
    "ev.comment": ("备注", "comment"),
    "ev.escalate": ("升级", "escalated"),
    "ev.notify": ("通知", "notification"),
    # ledger
    "lg.title": ("防篡改账本", "Tamper-evident ledger"),
    "lg.intro": (
        "每一帧原始数据和每一次人工操作都写入默克尔账本；签名检查点由见证方联署，任何人都可以验证。",
        "Every raw frame and every human act is an entry of a Merkle ledger; signed checkpoints are cosigned by "
        "witnesses, and anyone can verify them.",
    ),
    "lg.size": ("条目数", "Entries"),
    "lg.checkpoint": ("最新签名检查点", "Newest signed checkpoint"),
    "lg.none": ("尚无检查点。", "No checkpoint yet."),
    "lg.root": ("根哈希", "Root hash"),
    "lg.signed_at": ("签名时间", "Signed"),
    "lg.witnesses": ("见证联署", "Witness cosignatures"),
    "lg.no_witness": ("尚无见证联署。", "No witness has cosigned yet."),
    "lg.witness": ("见证方", "Witness"),
    "lg.history": ("近期检查点", "Recent checkpoints"),
    "lg.verify": ("全面验证", "Verify everything"),
    "lg.verify_hint": (
        "重新计算账本树、每个检查点签名，并核对每一帧原始数据和每条读数。",
        "Recomputes the tree and every checkpoint signature, and checks every raw frame and reading.",
    ),
    "lg.verify_running": ("验证进行中…", "Verifying…"),
    "lg.verify_ok": ("验证通过：账本完整。", "Verified: the ledger is intact."),
    "lg.verify_bad": ("验证发现问题：", "Verification found problems:"),
    "lg.verify_counts": (
        "{entries} 个条目、{checkpoints} 个检查点、{frames} 帧、{readings} 条读数",
        "{entries} entries, {checkpoints} checkpoints, {frames} frames, {readings} readings",
    ),
    "lg.verify_login": ("登录后可运行全面验证。", "Log in to run a full verification."),
    "lg.api": ("检查点与证明的 API", "Checkpoints and proofs through the API"),
    # public
    "pub.title": ("排污单位自动监测信息公开", "Disclosed monitoring data of enterprises"),
    "pub.intro": (
        "各排污单位自动监测的小时均值及超标情况，依据公开的原始数据计算。",
        "Hourly averages of each enterprise's automatic monitors and their exceedances, computed from the "
        "disclosed data.",
    ),
    "pub.enterprise": ("排污单位", "Enterprise"),
    "pub.credit_code": ("统一社会信用代码", "Unified social credit code"),
    "pub.points": ("点位数", "Points"),
    "pub.exceed_hours": ("近30天超标小时", "Exceedance hours, last 30 days"),
    "pub.latest_hour": ("最新小时数据", "Latest hourly data"),
    "pub.exceedances": ("近30天超标记录", "Exceedances in the last 30 days"),
    "pub.no_exceedance": ("近30天无超标。", "No exceedance in the last 30 days."),
    "pub.hour": ("小时", "Hour"),
    "pub.pollutant": ("污染物", "Pollutant"),
    "pub.value": ("小时均值", "Hourly average"),
    "pub.limit": ("限值", "Limit"),
    "pub.times": ("倍数", "× limit"),
    "pub.none": ("尚无公开数据。", "No disclosed data yet."),
    "pub.chart": ("近7天小时均值", "Hourly averages, last 7 days"),
    # quality records: analysers, checks, reference lots
    "qa.title": ("质控记录：分析仪", "Quality records: analysers"),
    "qa.intro": (
        "各点位分析仪的零点、量程、标样核查与比对监测记录；不合格的核查使该时段的数据无效（失控时段）。",
        "Zero, span and standard-sample checks and comparisons of each point's analysers; a failed check makes "
        "the data of its span invalid (out of control).",
    ),
    "qa.lots_link": ("标准物质批次", "Reference lots"),
    "qa.filter_point": ("点位", "Point"),
    "qa.all_points": ("全部点位", "all points"),
    "qa.no_points": ("您的账户不对应任何监测点位。", "Your account sees no monitoring point."),
    "qa.none": ("没有已登记的分析仪。", "No analyser is registered."),
    "qa.analyser": ("分析仪", "Analyser"),
    "qa.code": ("监测项目", "Parameter"),
    "qa.maker_model": ("生产厂家 / 型号", "Maker / model"),
    "qa.serial": ("出厂编号", "Serial number"),
    "qa.range": ("量程", "Range"),
    "qa.profile": ("判定准则", "Criteria profile"),
    "qa.calibration": ("校准方式", "Calibration"),
    "qa.automatic": ("自动校准", "automatic"),
    "qa.manual": ("人工校准", "by hand"),
    "qa.s_ams": ("仪器重复性 s_AMS", "Repeatability s_AMS"),
    "qa.s_ams_default": ("默认（技术指标 / 3）", "default (technical limit / 3)"),
    "qa.valid_from": ("启用时间", "In force from"),
    "qa.recorded_by": ("录入人", "Recorded by"),
    "qa.replaces": ("替换分析仪", "Replaces analyser"),
    "qa.replaced": ("已被 #{id} 替换（{at} 起）", "replaced by #{id} from {at}"),
    "qa.state": ("状态", "State"),
    "qa.in_control": ("受控", "in control"),
    "qa.out_of_control": ("失控", "out of control"),
    "qa.since": ("自 {at} 起", "since {at}"),
    "qa.checks": ("各项核查", "Checks"),
    "qa.kind.zero": ("零点核查", "zero check"),
    "qa.kind.span": ("量程核查", "span check"),
    "qa.kind.standard": ("标样核查", "standard-sample check"),
    "qa.kind.comparison": ("比对监测", "comparison"),
    "qa.verdict.pass": ("合格", "pass"),
    "qa.verdict.adjust": ("需校准", "adjust"),
    "qa.verdict.fail": ("不合格", "fail"),
    "qa.never": ("尚无记录", "none yet"),
    "qa.due": ("应于 {at} 前", "due {at}"),
    "qa.overdue": ("已超期", "overdue"),
    "qa.count": ("共 {n} 次", "{n} in all"),
    "qa.facts": ("分析仪信息", "The analyser"),
    "qa.current": ("当前状态", "Current state"),
    "qa.last": ("最近结果", "Last result"),
    "qa.due_col": ("下次应做", "Due"),
    "qa.spans": ("失控时段", "Out-of-control spans"),
    "qa.no_spans": ("没有失控时段。", "No out-of-control span."),
    "qa.span_from": ("开始", "From"),
    "qa.span_to": ("结束", "To"),
    "qa.still_open": ("仍未恢复", "still open"),
    "qa.failed": ("不合格记录", "Failed record"),
    "qa.last_pass": ("此前最近的合格记录", "Last result before it"),
    "qa.next_pass": ("此后第一个合格记录", "Next result after it"),
    "qa.ref.qa_checks": ("核查", "check"),
    "qa.ref.comparisons": ("比对", "comparison"),
    "qa.charts": ("核查偏差与漂移监控", "Check deviations and drift watch"),
    "qa.deviation": ("偏差", "deviation"),
    "qa.technical": ("技术指标", "technical limit"),
    "qa.ooc_limit": ("失控限", "out-of-control limit"),
    "qa.cusum": ("QAL3 累积和（CUSUM）", "QAL3 CUSUM"),
    "qa.cusum_p": ("P（正向漂移）", "P (upward drift)"),
    "qa.cusum_n": ("N（负向漂移）", "N (downward drift)"),
    "qa.h_x": ("漂移报警限 h_x", "drift alarm limit h_x"),
    "qa.drift_alarm": ("CUSUM 漂移报警", "CUSUM drift alarm"),
    "qa.precision_alarm": ("CUSUM 精密度报警", "CUSUM precision alarm"),
    "qa.cusum_hint": (
        "累积和只预警漂移，不使数据无效。",
        "The CUSUM warns of a drift; it never invalidates data.",
    ),
    "qa.no_checks": ("尚无核查记录，无法绘图。", "No checks yet: nothing to draw."),
    "qa.records": ("记录（最新在前）", "Records (newest first)"),
    "qa.check_records": ("核查记录", "Checks"),
    "qa.comparison_records": ("比对监测记录", "Comparisons"),
    "qa.maintenance_records": ("运维记录", "Maintenance"),
    "qa.none_yet": ("暂无。", "None yet."),
    "qa.kind": ("类型", "Kind"),
    "qa.started": ("开始时间", "Start"),
    "qa.ended": ("结束时间", "End"),
    "qa.lot": ("标准物质批次", "Reference lot"),
    "qa.reference": ("参考值", "Reference"),
    "qa.reading": ("读数", "Reading"),
    "qa.reading_after": ("调整后读数", "Reading after adjustment"),
    "qa.adjusted": ("已调整", "adjusted"),
    "qa.auto_check": ("自动", "automatic"),
    "qa.value": ("漂移 / 误差", "Drift / error"),
    "qa.verdict": ("结论", "Verdict"),
    "qa.performed_by": ("操作人", "Performed by"),
    "qa.note": ("备注", "Note"),
    "qa.pairs": ("数据对", "Pairs"),
    "qa.rm_source": ("参比方法报告", "Reference-method report"),
    "qa.rm_mean": ("参比方法均值", "Reference-method mean"),
    "qa.cems_mean": ("仪器均值", "Analyser mean"),
    "qa.metric": ("评价指标", "Metric"),
    "qa.limit": ("限值", "Limit"),
    "qa.description": ("内容", "Description"),
    "qa.mkind.maintenance": ("维护保养", "maintenance"),
    "qa.mkind.repair": ("维修", "repair"),
    "qa.mkind.fault": ("故障", "fault"),
    "qa.mkind.parameter_change": ("参数修改", "parameter change"),
    "qa.mkind.replacement": ("更换", "replacement"),
    "qa.mkind.verification": ("计量检定", "metrological verification"),
    "qa.record_check": ("录入核查", "Record a check"),
    "qa.end_hint": ("留空则同开始时间", "empty: the start"),
    "qa.reference_hint": (
        "留空：标准物质的标称值（零点核查为 0）",
        "empty: the lot's certified value (0 for a zero check)",
    ),
    "qa.no_lot": ("（不使用标准物质）", "(no reference material)"),
    "qa.no_usable_lot": (
        "没有可用的标准物质批次，请先登记。",
        "No usable reference lot: register one first.",
    ),
    "qa.submit": ("提交并写入账本", "Record in the ledger"),
    "qa.may_not_record": (
        "只有该点位所属企业的排污单位账户和运维人员可以录入核查。",
        "Only the enterprise and operator accounts of the point's enterprise record checks.",
    ),
    "qa.recorded": (
        "已记录并写入账本：{kind} {value}，结论：",
        "Recorded in the ledger: {kind} {value}, verdict: ",
    ),
    "qa.rechecked": (
        "失控时段已改变，已重新检查该点位数据：{findings} 项发现，新产生 {opened} 条报警，恢复 {cleared} 条。",
        "The out-of-control spans changed and the point's data were checked again: {findings} findings, "
        "{opened} alarms opened, {cleared} cleared.",
    ),
    "qa.refused": ("未记录：", "Not recorded: "),
    "qa.bad_time": ("{f} 不是有效的时间", "{f} is not a valid time"),
    "qa.bad_number": ("{f} 不是有效的数", "{f} is not a valid number"),
    "qa.required": ("请填写 {f}", "{f} is required"),
    "qa.too_long": ("{f} 过长", "{f} is too long"),
    "qa.not_allowed": ("您的角色不能录入此记录。", "Your role may not record this."),
    # reference lots
    "lot.title": ("有证标准物质批次", "Certified reference lots"),
    "lot.intro": (
        "量程核查和标样核查须注明所用的标准物质批次；过期或已撤销的批次会被拒绝。",
        "Span and standard checks must name the reference lot used; an expired or withdrawn lot is refused.",
    ),
    "lot.producer": ("生产单位", "Producer"),
    "lot.certificate": ("证书编号", "Certificate"),
    "lot.lot_no": ("批号", "Lot"),
    "lot.material": ("物质", "Material"),
    "lot.value": ("标称值 ± 扩展不确定度", "Certified value ± U"),
    "lot.certified_value": ("标称值", "Certified value"),
    "lot.unit": ("单位", "Unit"),
    "lot.uncertainty": ("扩展不确定度 U", "Expanded uncertainty U"),
    "lot.k": ("包含因子 k", "Coverage factor k"),
    "lot.expires": ("有效期至", "Expires on"),
    "lot.sha": ("证书扫描件 SHA-256（可选）", "SHA-256 of the certificate scan (optional)"),
    "lot.state": ("状态", "State"),
    "lot.state.usable": ("可用", "usable"),
    "lot.state.expired": ("已过期", "expired"),
    "lot.state.withdrawn": ("已撤销", "withdrawn"),
    "lot.withdrawn_by": ("{who} 于 {at} 撤销：{reason}", "withdrawn by {who} on {at}: {reason}"),
    "lot.recorded_by": ("登记人", "Registered by"),
    "lot.none": ("尚无登记的标准物质批次。", "No reference lot is registered."),
    "lot.register": ("登记新批次", "Register a lot"),
    "lot.withdraw": ("撤销", "Withdraw"),
    "lot.reason": ("撤销理由", "Reason for the withdrawal"),
    "lot.registered": ("已登记并写入账本。", "Registered in the ledger."),
    "lot.withdrawn_done": ("已撤销并写入账本。", "Withdrawn; recorded in the ledger."),
    "lot.may_not_withdraw": (
        "只有管理员、监管人员和实验室账户可以撤销标准物质批次。",
        "Only administrator, regulator and laboratory accounts withdraw reference lots.",
    ),
    # errors
    "err.title": ("出错了", "Something went wrong"),
    "err.404": ("页面不存在，或不在您的权限范围内。", "No such page, or it is outside your account's scope."),
    "err.403": ("您的账户无权执行此操作。", "Your account may not do this."),
    "err.csrf": (
        "表单已过期（防跨站请求伪造校验失败），请刷新页面后重试。",
        "The form has expired (cross-site request check failed): reload the page and try again.",
    ),
    "err.400": ("请求有误：", "Bad request: "),
    "err.back": ("返回总览", "Back to the overview"),
}


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``: the catalogue's text with ``{name}`` fields filled in."""
    i = 1 if lang == "en" else 0

    def t(key: str, **values: object) -> str:
        text = MESSAGES[key][i]
        return text.format(**values) if values else text

    return t


def pollutant_label(code: str, lang: str) -> str:
    p = POLLUTANTS.get(code)
    if p is None:
        return code
    return p.en if lang == "en" else p.zh


def pollutant_unit(code: str) -> str:
    p = POLLUTANTS.get(code)
    return p.unit if p is not None and p.unit else ""


def flag_text(letter: str | None, lang: str) -> str:
    f = DATA_FLAGS.get(letter or "N")
    if f is None:
        return letter or ""
    return f.en if lang == "en" else f.zh


def check_title(name: str, lang: str) -> str:
    c = CATALOGUE.get(name)
    if c is None:
        return name
    return c.title_en if lang == "en" else c.title_zh
