"""Words for codes, per locale (the templates call ``label(group, code)``)."""

from __future__ import annotations

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "zh-CN": {
        "zone": {"danger": "危险区", "alert": "威胁区"},
        "vulnerability": {
            "five_guarantee": "五保户",
            "elderly_alone": "独居老人",
            "mobility_impaired": "行动不便",
            "left_behind_children": "留守儿童",
            "hardship": "困难户",
        },
        "hazard_kind": {
            "landslide": "滑坡",
            "collapse": "崩塌",
            "debris_flow": "泥石流",
            "rockfall_road": "落石路段",
            "waterlogging_road": "易积水路段",
            "river_channel": "河道沟渠",
            "unsafe_house": "危险自建房",
        },
        "risk": {"low": "低", "medium": "中", "high": "高", "very_high": "极高"},
        "level": {"IV": "Ⅳ级", "III": "Ⅲ级", "II": "Ⅱ级", "I": "Ⅰ级"},
        "colour": {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"},
        "hazard": {"rainstorm": "暴雨", "geological": "地质灾害气象风险", "flood": "山洪"},
        "warning": {"name": "{hazard}{colour}预警"},
        # how notices name a warning to residents (its official name)
        "warning_formal": {
            "rainstorm": "暴雨{colour}预警信号",
            "geological": "地质灾害气象风险{colour}预警",
            "flood": "山洪灾害气象风险{colour}预警",
        },
        # the reports upward: what one is about, its title, a day's report
        "report": {
            "heading": "关于防汛{level}应急响应情况的报告",
            "heading_final": "关于防汛{level}应急响应结束及处置情况的报告",
            "title": "{drill}{office}{heading}（{numbered}）",
            "drill": "【演练】",
            "daily": "{month}月{day}日日报",
            "daily_zero": "{month}月{day}日零报告",
        },
        # the page a cadre sees after tapping a 收到 link
        "ack_page": {
            "call": "请直接电话联系镇值班室",
            "call_number": "请直接电话联系镇值班室（{phone}）",
            "expired_title": "链接已过期",
            "expired": "此确认链接已过期，{call}回复收到。",
            "malformed_title": "链接不完整",
            "malformed": "链接不完整或已损坏（可能复制时被截断），{call}回复收到。",
            "invalid_title": "链接无效",
            "invalid": "链接无效，不能用于确认此任务，{call}回复收到。",
            "error_title": "暂时无法确认",
            "error": "系统暂时无法确认，请直接电话联系镇值班室回复收到。",
            "not_found_title": "未找到",
            "not_found": "未找到该页面。",
            "done_title": "已确认收到",
            "done": "已确认收到，谢谢！请按任务单落实。",
            "again": "此前已确认收到，无需重复确认。",
        },
        # the subject line of each kind of notice
        "subject": {
            "relocation": "转移通知",
            "warning": "预警提醒",
            "group": "{village}村民群",
            "broadcast": "{village}流动喇叭",
            "door_visit": "{village}入户叫应清单",
            "card": "避险明白卡",
            "tasks": "任务单",
        },
        "basis": {
            "warning": "依据预警自动启动",
            "county_notice": "依据县防指通知启动",
            "town_assessment": "经镇防指会商研判启动",
        },
        "phase": {"before": "雨前排查", "during": "雨中除险", "after": "雨后巡查"},
        "inspection": {
            "assigned": "待排查",
            "ok": "正常",
            "watch": "需关注",
            "danger": "有险情",
            "cannot_judge": "不能研判",
        },
        "road": {"blocked": "等待机械", "dispatched": "正在抢通", "reopened": "已抢通恢复通行"},
        "report_kind": {"initial": "首报", "follow_up": "续报", "final": "终报", "daily": "日报"},
        "reason": {
            "vulnerable_in_hazard_zone": "隐患区内特殊群体",
            "dangerous_house": "居住危房",
            "hazard_risk": "受高风险隐患点威胁",
            "danger_finding": "排查发现险情",
            "cannot_judge": "险情不能研判",
        },
        "role": {
            "town_leader": "镇领导",
            "first_secretary": "驻村第一书记",
            "village_cadre": "村干部",
            "team_member": "驻村工作队员",
            "group_leader": "社长",
            "grid_member": "网格员",
        },
        "relocation": {
            "ordered": "未核实",
            "moved": "已转移",
            "in_shelter": "已到安置点",
            "refused": "拒绝转移",
            "unreachable": "联系不上",
            "returned": "已返回",
            "with_relatives": "投亲靠友",
            "removed": "已带离",
        },
        # the roll-call form: what the households not listed one by one are
        "others": {
            "moved": "其余均已转移",
            "in_shelter": "其余均已到安置点",
            "unconfirmed": "其余尚未核实",
        },
        "channel": {
            "sms": "短信",
            "wechat": "微信群",
            "loudspeaker": "流动喇叭",
            "door_visit": "入户叫应清单",
            "card": "避险明白卡",
            "task_list": "干部任务单",
            "phone_call": "电话通知清单",
            "county": "报县",
        },
        "notice_status": {
            "pending": "待发送",
            "sent": "已发送",
            "delivered": "已送达",
            "failed": "发送失败",
            "acknowledged": "已回复",
            "superseded": "已被新版替代",
            "expired": "已过期未送达",
        },
        "audience": {
            "resident": "群众",
            "cadre": "干部",
            "group": "村民群",
            "public": "公众",
            "county": "县防指",
            "medical": "卫生院",
            "driver": "驾驶员",
        },
        "plan": {"flood": "防汛", "epidemic": "疫情防控"},
        "activation_status": {"active": "进行中", "stood_down": "已结束"},
    },
    "en": {
        "zone": {"danger": "danger zone", "alert": "alert zone"},
        "vulnerability": {
            "five_guarantee": "five-guarantee household",
            "elderly_alone": "elderly living alone",
            "mobility_impaired": "mobility-impaired",
            "left_behind_children": "left-behind children",
            "hardship": "household in hardship",
        },
        "hazard_kind": {
            "landslide": "landslide",
            "collapse": "collapse",
            "debris_flow": "debris flow",
            "rockfall_road": "rockfall road segment",
            "waterlogging_road": "waterlogging road segment",
            "river_channel": "river channel or ditch",
            "unsafe_house": "unsafe self-built house",
        },
        "risk": {"low": "low", "medium": "medium", "high": "high", "very_high": "very high"},
        "level": {"IV": "level IV", "III": "level III", "II": "level II", "I": "level I"},
        "colour": {"blue": "blue", "yellow": "yellow", "orange": "orange", "red": "red"},
        "warning": {"name": "{hazard} {colour} warning"},
        "warning_formal": {
            "rainstorm": "rainstorm {colour} warning signal",
            "geological": "geological hazard weather risk {colour} warning",
            "flood": "flash flood weather risk {colour} warning",
        },
        "report": {
            "heading": "Report on the {level} flood response",
            "heading_final": "Report on the end of the {level} flood response",
            "title": "{drill}{office}: {heading} ({numbered})",
            "drill": "[DRILL] ",
            "daily": "daily report of {date}",
            "daily_zero": "zero report of {date}",
        },
        "ack_page": {
            "call": "please call the town duty office",
            "call_number": "please call the town duty office ({phone})",
            "expired_title": "Link expired",
            "expired": "This link has expired: {call} to confirm.",
            "malformed_title": "Link incomplete",
            "malformed": "The link is incomplete or damaged (cut when copied?): {call} to confirm.",
            "invalid_title": "Link not valid",
            "invalid": "This link cannot confirm this task: {call} to confirm.",
            "error_title": "Cannot confirm now",
            "error": "The system cannot confirm now: please call the town duty office to confirm.",
            "not_found_title": "Not found",
            "not_found": "No such page.",
            "done_title": "Confirmed",
            "done": "Confirmed, thank you. Please carry out the task list.",
            "again": "Already confirmed: nothing more to do.",
        },
        "subject": {
            "relocation": "Relocation order",
            "warning": "Warning",
            "group": "{village} village group",
            "broadcast": "{village} loudspeaker",
            "door_visit": "{village} door-visit list",
            "card": "Evacuation card",
            "tasks": "Task list",
        },
        "basis": {
            "warning": "started on the warning",
            "county_notice": "started on the county headquarters' notice",
            "town_assessment": "started on the town headquarters' assessment",
        },
        "hazard": {
            "rainstorm": "rainstorm",
            "geological": "geological hazard",
            "flood": "flash flood",
        },
        "phase": {
            "before": "before-rain check",
            "during": "during-rain patrol",
            "after": "after-rain patrol",
        },
        "inspection": {
            "assigned": "not yet checked",
            "ok": "normal",
            "watch": "watch",
            "danger": "danger",
            "cannot_judge": "cannot be judged",
        },
        "road": {
            "blocked": "blocked, waiting",
            "dispatched": "being cleared",
            "reopened": "reopened",
        },
        "report_kind": {
            "initial": "initial report",
            "follow_up": "follow-up report",
            "final": "final report",
            "daily": "daily report",
        },
        "reason": {
            "vulnerable_in_hazard_zone": "vulnerable, in a hazard zone",
            "dangerous_house": "lives in a dangerous house",
            "hazard_risk": "threatened by a high-risk hazard",
            "danger_finding": "danger found on inspection",
            "cannot_judge": "the monitor cannot judge the danger",
        },
        "role": {
            "town_leader": "town leader",
            "first_secretary": "first secretary",
            "village_cadre": "village cadre",
            "team_member": "assistance-team member",
            "group_leader": "group leader",
            "grid_member": "grid member",
        },
        "relocation": {
            "ordered": "not confirmed",
            "moved": "moved",
            "in_shelter": "in shelter",
            "refused": "refused",
            "unreachable": "unreachable",
            "returned": "returned home",
            "with_relatives": "staying with relatives",
            "removed": "removed by the town",
        },
        "others": {
            "moved": "all others moved",
            "in_shelter": "all others in shelter",
            "unconfirmed": "others not yet confirmed",
        },
        "channel": {
            "sms": "SMS",
            "wechat": "WeChat group",
            "loudspeaker": "loudspeaker",
            "door_visit": "door-visit list",
            "card": "evacuation card",
            "task_list": "cadre task list",
            "phone_call": "call list",
            "county": "report to the county",
        },
        "notice_status": {
            "pending": "pending",
            "sent": "sent",
            "delivered": "delivered",
            "failed": "failed",
            "acknowledged": "acknowledged",
            "superseded": "superseded by a newer version",
            "expired": "expired undelivered",
        },
        "audience": {
            "resident": "resident",
            "cadre": "cadre",
            "group": "village group",
            "public": "public",
            "county": "county headquarters",
            "medical": "health centre",
            "driver": "driver",
        },
        "plan": {"flood": "flood", "epidemic": "epidemic"},
        "activation_status": {"active": "open", "stood_down": "ended"},
        # the point kinds config/plans/epidemic.yaml names (in Chinese, as the town writes them)
        "point_kind": {
            "检测点": "testing point",
            "卡点": "checkpoint",
            "集中隔离点": "central quarantine site",
        },
    },
}


def label(locale: str, group: str, code: str | None) -> str:
    """The word for ``code`` in ``group``; an unknown code is shown as it is, never blank."""
    if code is None:
        return ""
    return LABELS.get(locale, LABELS["zh-CN"]).get(group, {}).get(code, code)


_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}


def cn_number_value(text: str) -> int | None:
    """The value of the Chinese numeral a name starts with (``十二组`` → 12), or None."""
    digits = ""
    for ch in text:
        if ch in _CN_DIGITS or ch == "十":
            digits += ch
        else:
            break
    if not digits:
        return None
    if "十" not in digits:
        value = 0
        for ch in digits:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    tens, _, ones = digits.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def group_order(name: str) -> tuple[int, str]:
    """Sort key for village groups: 一组, 二组 … 十二组 in numeric order, others after."""
    value = cn_number_value(name)
    return (value if value is not None else 10_000, name)
