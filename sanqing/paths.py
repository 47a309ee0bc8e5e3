"""File names from data, and folders sanqing must be able to write.

A village, cadre or household name, a code, an activation id or a warning
identifier can hold anything a ledger or a feed put there: ``../../x``, ``a/b``,
a NUL, a bidi override, 300 characters. Every path built from data goes through
``inside(root, *names)``: each name becomes one plain component (``safe_component``)
and the result is checked to stay under ``root``.

A folder given on the command line or in the settings is checked before any work
(``writable_dir``): a wrong one is one line naming the folder and the reason, not a
traceback after the drill.
"""

from __future__ import annotations

import hashlib
import tempfile
import unicodedata
from pathlib import Path

from sanqing.errors import UnsafePath, UnwritableDir

#: Longest component in UTF-8 bytes: ext4 and most filesystems stop at 255, and a
#: Chinese name is 3 bytes a character; room is left for a suffix and a copy's prefix.
COMPONENT_MAX_BYTES = 120
#: Hex digits of the hash that keeps apart names that clean up alike.
HASH_CHARS = 8
#: Dropped, not replaced: invisible characters (controls, zero-width, bidi, surrogates).
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
_KEPT_PUNCTUATION = frozenset("-_.")


def _plain(ch: str) -> bool:
    # Letters (CJK included), digits and combining marks (Tibetan, Uyghur names need them).
    return ch in _KEPT_PUNCTUATION or unicodedata.category(ch)[0] in "LNM"


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8 without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def safe_component(name: str, *, suffix: str = "", max_bytes: int = COMPONENT_MAX_BYTES) -> str:
    """One file or folder name for ``name`` (plus a trusted ``suffix`` such as ``.html``).

    NFC-normalised; control, zero-width and bidi characters dropped; separators and
    anything but letters, digits and ``-_.`` replaced by ``_``; no leading dot or dash
    (no ``.``/``..``, no hidden file, no option look-alike); at most ``max_bytes`` of
    UTF-8. A name that had to change gets a short hash of the original, so two names
    that clean up alike stay two files; an empty result is the hash alone.
    """
    text = unicodedata.normalize("NFC", name)
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED)
    cleaned = "".join(ch if _plain(ch) else "_" for ch in kept).lstrip(".-")
    budget = max_bytes - len(suffix.encode("utf-8"))
    if cleaned and cleaned == text and len(cleaned.encode("utf-8")) <= budget:
        return f"{cleaned}{suffix}"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    body = _cut(cleaned, budget - HASH_CHARS - 1)
    return f"{body}-{digest}{suffix}" if body else f"_{digest}{suffix}"


def ensure_inside(root: Path, path: Path) -> Path:
    """Return ``path`` if it resolves under ``root`` (symlinks followed); raise ``UnsafePath``."""
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise UnsafePath(
            f"{path} would be written outside {root} (a name from the data, or a link in "
            "the folder, leads out of it); nothing was written there"
        )
    return path


def inside(root: Path, *names: str, suffix: str = "") -> Path:
    """``root / name / …`` with each name made one safe component, checked to stay in ``root``.

    ``suffix`` (trusted: ``.txt``, ``.html``) goes on the last name.
    """
    last = len(names) - 1
    parts = [safe_component(n, suffix=suffix if i == last else "") for i, n in enumerate(names)]
    return ensure_inside(root, root.joinpath(*parts))


def writable_dir(path: Path, *, what: str) -> Path:
    """Create ``path`` if needed and prove it takes a file; raise ``UnwritableDir`` naming it.

    Checked before any work, so a wrong folder is one line at the start, not a
    traceback after the drill. Works for root too (a path under a regular file fails).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".sanqing-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnwritableDir(f"{what} {path}: cannot write there ({reason})") from exc
    return path
