"""moviepy's audio reader, with FFmpeg's error output read as it comes, and a way to stop it.

moviepy starts FFmpeg with its errors going to a pipe that nothing reads. A damaged track logs an error for each bad
frame (1.5 MB for ten minutes of AAC with a damaged byte every 500): the pipe fills, FFmpeg blocks writing to it, and
the reader waits for samples that never come, past any time limit. Here a thread reads the errors away as they come
(FFmpeg skips the bad frames and goes on, as it does on a terminal), and `stop` kills FFmpeg so that a read waiting
for it returns (the audio stage calls it at its time limit: reelmind.timelimit.stop_at_deadline).
"""

from __future__ import annotations

import threading

from moviepy.audio.io.readers import FFMPEG_AudioReader


class DrainedAudioReader(FFMPEG_AudioReader):
    def initialize(self, start_time: float = 0) -> None:
        """moviepy's, which (re)starts FFmpeg at `start_time`; then its errors are read in a thread of their own."""
        super().initialize(start_time)
        threading.Thread(target=_read_away, args=(self.proc.stderr,), name="ffmpeg-errors", daemon=True).start()

    def stop(self) -> None:
        """Kill FFmpeg (from another thread): a read waiting for its samples returns what there is."""
        process = self.proc
        if process is not None:
            process.kill()


def _read_away(stream) -> None:
    try:
        while stream.read(1 << 16):
            pass
    except (OSError, ValueError):  # closed by the reader (moviepy closes the pipes when it restarts or closes FFmpeg)
        pass
