"""The file channel: every notice and report written under a folder (the drill's delivery).

Layout under the output folder::

    notices/sms/<村>.txt             one block per message as received (the platform's
                                     signature first), numbers masked
    notices/wechat/<村>.txt          the village group message
    notices/loudspeaker/<村>.txt     the broadcast script
    notices/door_visit/<村>-<干部>.html   printable checklists
    notices/task_list/<村>-<干部>.txt
    notices/card/<村>/<户编号>.html   evacuation cards, one per household
    reports/<kind>-<seq>.{txt,html,json}

SMS files mask the phone numbers: the folder is for reading and printing; the
full number stays in the outbox for a real gateway. Names come from the registry:
each becomes one safe file name (``sanqing.paths.inside``), so a village called
``../../x`` or a 300-character cadre name still lands in its folder.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.models import Cadre, Channel, Notice, NoticeStatus, Report, Village, utcnow
from sanqing.paths import inside
from sanqing.privacy import mask_phone


@dataclass
class FileDelivery:
    notices: Counter[str] = field(default_factory=Counter)
    reports: list[str] = field(default_factory=list)


def deliver_to_files(
    *,
    session: Session,
    activation_id: str,
    out_dir: Path,
    now: datetime | None = None,
    mark_sent: bool = True,
) -> FileDelivery:
    """Write the activation's notices and reports under ``out_dir``; mark pending notices sent.

    With ``mark_sent=False`` it only writes the files (the control room's print folder):
    the outbox stays as it is for the real channels.
    """
    now = now or utcnow()
    notices_dir = out_dir / "notices"
    villages = {v.code: v.name for v in session.exec(select(Village))}
    cadres = {c.code: c.name for c in session.exec(select(Cadre))}
    rows = list(
        session.exec(
            select(Notice)
            .where(
                Notice.activation_id == activation_id,
                Notice.status != NoticeStatus.SUPERSEDED,  # only the latest version of a list
            )
            .order_by(col(Notice.id))
        )
    )
    result = FileDelivery()
    grouped: dict[Path, list[str]] = defaultdict(list)
    for n in rows:
        placed = _place(n, notices_dir, villages=villages, cadres=cadres)
        if placed is not None:
            path, text = placed
            grouped[path].append(text)
        result.notices[n.channel] += 1
        if mark_sent and n.status == NoticeStatus.PENDING:
            n.status = NoticeStatus.SENT
            n.sent_at = now
            n.attempts += 1
            session.add(n)
    for path, parts in grouped.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts), encoding="utf-8")
    result.reports = _write_reports(
        session, activation_id=activation_id, reports_dir=out_dir / "reports", mark_sent=mark_sent
    )
    return result


def _place(
    n: Notice, notices_dir: Path, *, villages: dict[str, str], cadres: dict[str, str]
) -> tuple[Path, str] | None:
    """The file a notice goes into and what it adds there; None for a report upward."""
    village = villages.get(n.village_code or "", n.village_code or "town")
    if n.channel == Channel.SMS:
        to = f"{mask_phone(n.address)}（{n.recipient}）"
        # As the phone shows it: the platform's signature, then the body.
        signature = (n.payload or {}).get("signature", "")
        text = f"收件人：{to}\n{signature}{n.body.strip()}\n"
        return inside(notices_dir, "sms", village, suffix=".txt"), text
    if n.channel in (Channel.WECHAT, Channel.LOUDSPEAKER):
        return inside(notices_dir, n.channel, village, suffix=".txt"), n.body
    if n.channel == Channel.COUNTY:
        return None  # the reports upward are written whole under reports/
    if n.channel == Channel.CARD:
        return inside(notices_dir, "card", village, n.recipient, suffix=".html"), n.body
    who = cadres.get(n.recipient, n.recipient)
    ext = "html" if n.body_format == "html" else "txt"
    path = inside(notices_dir, n.channel, f"{village}-{who}-{n.recipient}", suffix=f".{ext}")
    return path, n.body


def _write_reports(
    session: Session, *, activation_id: str, reports_dir: Path, mark_sent: bool
) -> list[str]:
    """Each report as text, printable page and JSON; returns their ``<kind>-<seq>`` names."""
    written = []
    for r in session.exec(select(Report).where(Report.activation_id == activation_id)):
        stem = f"{r.kind}-{r.seq}"
        reports_dir.mkdir(parents=True, exist_ok=True)
        inside(reports_dir, stem, suffix=".txt").write_text(r.text, encoding="utf-8")
        inside(reports_dir, stem, suffix=".html").write_text(r.html, encoding="utf-8")
        inside(reports_dir, stem, suffix=".json").write_text(
            json.dumps(r.payload, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        if mark_sent and r.status == NoticeStatus.PENDING:
            r.status = NoticeStatus.SENT
            session.add(r)
        written.append(stem)
    return written


class FileSender:
    """A channel without an endpoint: each message becomes a file (the embedded default).

    Idempotent: the file is named for the message key, so a second send rewrites it.
    """

    idempotent = True

    def __init__(self, folder: Path, *, name: str = "file") -> None:
        self.folder, self.name = folder, name

    def send(self, msg: Message) -> SendResult:
        ext = "html" if msg.text.lstrip().startswith("<") else "txt"
        path = inside(self.folder, msg.key, suffix=f".{ext}")
        path.parent.mkdir(parents=True, exist_ok=True)
        head = f"收件人：{mask_phone(msg.to)}\n" if msg.to and ext == "txt" else ""
        path.write_text(head + msg.text, encoding="utf-8")
        return SendResult(provider_id=str(path))

    def close(self) -> None:
        return None
