"""The towns sanqing knows: found by key, code or name, listed for the forms, loaded once per database."""

from __future__ import annotations

import weakref
from pathlib import Path

import yaml
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sanqing import db
from sanqing.errors import UnknownTown
from sanqing.models import (
    Town,
)
from sanqing.registry.loader import load_town_dir
from sanqing.registry.rows import TOWN_FILE
from sanqing.settings import get_settings

# --- towns --------------------------------------------------------------------------------


def find_town(session: Session, town: str) -> Town:
    """Return the town with this key, 9-digit code or Chinese name; ``UnknownTown`` otherwise."""
    found = session.exec(
        select(Town).where(
            or_(Town.key == town, Town.code == town, Town.name == town)  # type: ignore[arg-type]
        )
    ).all()
    if found:
        # A key or code is exact; a name could in principle repeat across counties.
        return next((t for t in found if town in (t.key, t.code)), found[0])
    known = session.exec(select(Town.key).order_by(Town.key)).all()
    raise UnknownTown(town, list(known))


def town_dirs(towns_dir: Path | None = None) -> list[Path]:
    """Return the town directories (those with a town.yaml) under ``config/towns``."""
    root = towns_dir or get_settings().towns_dir
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/{TOWN_FILE}"))


def find_town_dir(town: str, towns_dir: Path | None = None) -> Path:
    """Return the directory of the town with this key, code or name; ``UnknownTown`` otherwise."""
    dirs = town_dirs(towns_dir)
    for d in dirs:
        if d.name == town:
            return d
    for d in dirs:
        try:
            meta = yaml.safe_load((d / TOWN_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # an unreadable town.yaml is reported when that town is loaded
        if isinstance(meta, dict) and town in (str(meta.get("code")), meta.get("name")):
            return d
    raise UnknownTown(town, [d.name for d in dirs])


def _town_metas(towns_dir: Path | None = None) -> list[tuple[str, str | None, str | None]]:
    """(key, name, code) of each configured town; None where town.yaml does not say."""
    out = []
    for d in town_dirs(towns_dir):
        try:
            meta = yaml.safe_load((d / TOWN_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            meta = None
        meta = meta if isinstance(meta, dict) else {}
        name, code = meta.get("name"), meta.get("code")
        out.append((d.name, str(name) if name else None, str(code) if code else None))
    return out


def town_choices(towns_dir: Path | None = None) -> list[str]:
    """One entry per configured town, by its Chinese name (its key when town.yaml has
    none): the control room's town picker. The command line and in-process runs still
    take a key or code (``town_names`` maps them); the form lists each town once."""
    return list(dict.fromkeys(name or key for key, name, _ in _town_metas(towns_dir)))


def town_names(towns_dir: Path | None = None) -> dict[str, str]:
    """Key, code or name of a configured town → its name (for run names and titles)."""
    out: dict[str, str] = {}
    for key, name, code in _town_metas(towns_dir):
        if name:
            out.update({key: name, name: name} | ({code: name} if code else {}))
    return out


_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_registry(town: str = "jifeng") -> str:
    """Create the tables, load the town's registry unless it is there; return the town code.

    When the town is already registered this costs one query. A first load insists
    on a clean ledger: any refused row raises ``RegistryError`` and nothing is kept
    (load with ``load_town_dir`` to keep the good rows of a faulty ledger).
    """
    engine = db.get_engine()
    if engine not in _READY:
        db.init_db()
        _READY.add(engine)
    with db.session_scope() as session:
        code = session.exec(
            select(Town.code).where(or_(Town.key == town, Town.code == town))  # type: ignore[arg-type]
        ).first()
        if code is not None:
            return code
        report = load_town_dir(session, find_town_dir(town))
        report.raise_for_problems()
        return report.town_code
