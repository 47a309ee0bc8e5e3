"""A versioned notice's digest: the memoised JSON is ``json.dumps``'s own text.

Notice ids are idempotency keys: the batch encodes each move once (``_CanonicalJSON``)
and must give the same text, so the same id, as the plain ``digest``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanqing.outbox.batch import _CanonicalJSON, _dumps, digest

MOVE: dict[str, Any] = {
    "household_code": "H1",
    "head_name": "欧阳德华",
    "hazards": [{"code": "Z1", "zone": "危险区", "kind_code": "landslide"}],
    "shelter": {"name": "村委会", "manager": {"name": "王", "phone": "139"}},
    "people": 3,
    "shortfall": False,
    "vulnerabilities": [],
}
SAID: list[dict[str, Any]] = [
    {},
    {"moves": []},
    {"cadre": {"code": "C1", "name": "李"}, "moves": [MOVE, MOVE | {"people": 4}], "level": "I"},
    {"moves": [MOVE], "inspections": [], "warning": {"sent": datetime(2026, 7, 12, tzinfo=UTC)}},
    {"summary": {"groups": ["一社"], "shelters": [None]}, "level": "III", "n": 1.5, "t": (1, 2)},
]


def test_memoised_json_is_json_dumps() -> None:
    canonical = _CanonicalJSON()
    for _ in range(2):  # the second round comes from the memo
        for said in SAID:
            assert canonical.dumps(said) == _dumps(said)


def test_digest_is_unchanged() -> None:
    """Pinned (the value before the memo): a different digest would give new notice ids."""
    said = {"moves": [MOVE, MOVE], "level": "I", "cadre": {"name": "李"}}
    assert digest(said) == "3038b8b7e608"
    assert _CanonicalJSON().dumps(said) == _dumps(said)
