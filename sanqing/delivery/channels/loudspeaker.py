"""The village loudspeaker (大喇叭): a broadcast script, and speech audio when espeak-ng is there.

For each message it writes ``<out_dir>/<key>.txt``: the text ``repeat`` times,
separated by a blank line, because a broadcast is read out more than once. With
espeak-ng it also writes ``<key>.wav`` of that script (``espeak-ng -v cmn -s 150``),
for a player that picks files up from the folder. Both files are written under a
temporary name and renamed, so a player never reads half a file. Writing the same
message again rewrites the same files: the channel is idempotent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.errors import ChannelError
from sanqing.paths import inside

ESPEAK = shutil.which("espeak-ng")
ESPEAK_TIMEOUT_S = 60


class Loudspeaker:
    """Writes broadcast scripts (and audio) into a folder (name "loudspeaker")."""

    name = "loudspeaker"
    idempotent = True

    def __init__(self, out_dir: Path, espeak: str | None = ESPEAK, repeat: int = 2) -> None:
        self.out_dir = Path(out_dir)
        self.espeak = espeak
        self.repeat = max(1, repeat)

    def script(self, text: str) -> str:
        """What is read out: the text ``repeat`` times, a blank line between."""
        return "\n\n".join([text.strip()] * self.repeat) + "\n"

    def send(self, msg: Message) -> SendResult:
        """Write the script, and the audio when espeak-ng is there; raises ChannelError."""
        # The key names the files; a key that is no plain file name is cleaned up (and hashed).
        script = self.script(msg.text)
        txt = inside(self.out_dir, msg.key, suffix=".txt")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            tmp = txt.with_name(f".{txt.name}.tmp")
            tmp.write_text(script, encoding="utf-8")
            os.replace(tmp, txt)
        except OSError as exc:
            # A full or missing disk may come back; rewriting the file is harmless.
            raise ChannelError(
                f"loudspeaker: cannot write {txt}: {exc.strerror}", retryable=True
            ) from exc
        if not self.espeak:
            return SendResult(provider_id=str(txt), detail="script only (no espeak-ng)")
        wav = inside(self.out_dir, msg.key, suffix=".wav")
        tmp_wav = wav.with_name(f".{wav.stem}.tmp.wav")
        cmd = [self.espeak, "-v", "cmn", "-s", "150", "-w", str(tmp_wav)]
        shown = " ".join(cmd)  # the command without the text, for the error message
        # A text starting with "-" would be read as an option; a leading space is not spoken.
        spoken = f" {script}" if script.startswith("-") else script
        try:
            subprocess.run(
                [*cmd, spoken], check=True, timeout=ESPEAK_TIMEOUT_S, capture_output=True
            )
            os.replace(tmp_wav, wav)
        except subprocess.CalledProcessError as exc:
            err = exc.stderr.decode("utf-8", "replace").strip()[-200:]
            raise ChannelError(
                f"loudspeaker: `{shown}` failed with exit status {exc.returncode}: {err}",
                retryable=False,
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ChannelError(
                f"loudspeaker: `{shown}` took longer than {ESPEAK_TIMEOUT_S} s", retryable=False
            ) from exc
        except OSError as exc:
            raise ChannelError(f"loudspeaker: `{shown}` failed: {exc}", retryable=False) from exc
        finally:
            tmp_wav.unlink(missing_ok=True)  # left over only when espeak-ng failed
        return SendResult(provider_id=str(wav), detail="script and audio")

    def close(self) -> None:
        """Nothing to close."""
