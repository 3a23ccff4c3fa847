"""Generate ReelMind's small test and demo media into `media_fixtures/`.

What it makes (about 1.5 MB in all, each clip 5-10 s):
- tomato_soup_recipe.mp4       English speech (espeak-ng en-us) over three hard-cut scenes with large English text.
- space_station_mandarin.mp4   Mandarin speech (espeak-ng cmn-latn-pinyin) over three scenes with Chinese text
                               (and smaller English subtitles), drawn with a CJK font.
- gardening_podcast.mp3        audio only, English speech (espeak-ng en-gb).
- quarterly_report_silent.mp4  three slides of English text and NO audio stream.
plus, for every media file, a sidecar `<file name>.json` (title, description, tags, uploader, published_at) as a
video platform would give it, `expected.json` (language, exact spoken text, drawn text, streams, duration: what the
tests compare against) and a short README.md.

Why: tests and demos need media whose content is known exactly (speech in two languages, on-screen text, scene
cuts, a silent video, an audio-only file) and that is small, licence-clean and reproducible. Everything here is
synthesised, so the files carry the project's own licence.

What it needs:
- Debian `espeak-ng` (text to speech);
- a CJK font for the Chinese on-screen text, e.g. Debian `fonts-wqy-microhei` or `fonts-noto-cjk`
  (found with `fc-list :lang=zh-cn`, else from a list of known paths); it draws the English text too;
- Python packages numpy, Pillow and imageio-ffmpeg (whose bundled ffmpeg encodes: H.264 yuv420p + AAC mono in .mp4
  with +faststart, MP3 for the podcast).
    apt-get install -y espeak-ng fonts-wqy-microhei

Usage:  python scripts/make_fixtures.py [--out DIR]

Deterministic: fixed text, seeds, dates and encoder settings (single-threaded x264, bitexact muxing, no metadata),
so a rerun with the same espeak-ng, font and ffmpeg build gives the same bytes.

Mandarin and Whisper: espeak-ng's Mandarin is robotic, and Whisper base (the project's default model) heard the
default male voice as Thai or English. What made it read as Mandarin (`zh` picked over `en` with ~0.5 probability and
most characters right) was: pinyin with tone numbers (not characters, so no dictionary guesses), syllables of a word
joined ("jie2mu4"), the female variant `+f3`, speed 140, phrases spoken separately with 0.4 s pauses, a sentence
without hard words (参观国际 was always garbled), and j+ian written z+ian (espeak's palatal affricate for j is heard
as k; a dental ts comes out closer).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
W, H, FPS = 480, 270, 25
AUDIO_RATE = 22050  # espeak-ng's own rate; stored as is (AAC/MP3 mono)

CJK_FONT_PATHS = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
]


def die(message: str) -> None:
    sys.exit(f"make_fixtures: {message}")


# ---------------------------------------------------------------- tools

def find_cjk_font() -> tuple[str, int]:
    """(font file, face index) of a font with simplified Chinese glyphs, preferring a Simplified Chinese face."""
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", "-f", "%{file}|%{index}|%{family}\n", ":lang=zh-cn"],
                             capture_output=True, text=True).stdout
        faces = []
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and Path(parts[0]).exists():
                family = parts[2]
                rank = (0 if ("SC" in family or "Micro Hei" in family or "Zen Hei" in family) else 1,
                        "Mono" in family, parts[0], int(parts[1] or 0))
                faces.append((rank, parts[0], int(parts[1] or 0)))
        if faces:
            _, path, index = min(faces)
            return path, index
    for path in CJK_FONT_PATHS:
        if Path(path).exists():
            return path, 0
    die("no CJK font found (install one: apt-get install -y fonts-wqy-microhei, or fonts-noto-cjk)")
    raise AssertionError


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        die("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)")
    return imageio_ffmpeg.get_ffmpeg_exe()


def check_espeak() -> None:
    if not shutil.which("espeak-ng"):
        die("espeak-ng not found (install it: apt-get install -y espeak-ng)")


# ---------------------------------------------------------------- speech

def espeak(text: str, voice: str, speed: int) -> np.ndarray:
    """One phrase as int16 samples at AUDIO_RATE."""
    run = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True)
    if run.returncode != 0 or not run.stdout:
        die(f"espeak-ng failed for voice {voice}: {run.stderr.decode(errors='replace').strip()}")
    with wave.open(io.BytesIO(run.stdout)) as w:
        if w.getframerate() != AUDIO_RATE or w.getnchannels() != 1:
            die(f"espeak-ng gave {w.getframerate()} Hz x{w.getnchannels()}, expected {AUDIO_RATE} Hz mono")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def speak(phrases: list[str], voice: str, speed: int, lead_s: float = 0.5, gap_s: float = 0.4) -> np.ndarray:
    """Phrases spoken one by one with pauses between them, after a short lead-in of silence."""
    pieces = [np.zeros(int(AUDIO_RATE * lead_s), np.int16)]
    for i, phrase in enumerate(phrases):
        if i:
            pieces.append(np.zeros(int(AUDIO_RATE * gap_s), np.int16))
        pieces.append(espeak(phrase, voice, speed))
    return np.concatenate(pieces)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(AUDIO_RATE)
        w.writeframes(samples.astype(np.int16).tobytes())


# ---------------------------------------------------------------- pictures

class Fonts:
    def __init__(self, path: str, index: int):
        self.path, self.index, self._cache = path, index, {}

    def get(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._cache:
            self._cache[size] = ImageFont.truetype(self.path, size, index=self.index)
        return self._cache[size]


def word_gap(font: ImageFont.FreeTypeFont) -> float:
    """A wide word space: OCR (RapidOCR) runs words together at the font's own narrow space."""
    return max(font.getlength(" "), 0.3 * font.size)


def text_width(text: str, font: ImageFont.FreeTypeFont) -> float:
    words = text.split(" ")
    return sum(font.getlength(w) for w in words) + word_gap(font) * (len(words) - 1)


def text_panel(img: Image.Image, fonts: Fonts, text: str, cy: int, size: int,
               fg=(255, 255, 255), bg=(0, 0, 0), margin: int = 16) -> None:
    """Text centred at height cy on a solid rounded panel: high contrast for OCR."""
    while size > 12 and text_width(text, fonts.get(size)) > W - 2 * margin - 24:
        size -= 2
    font = fonts.get(size)
    draw = ImageDraw.Draw(img)
    _, top, _, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = text_width(text, font), bottom - top
    x, y = (W - tw) / 2, cy - th // 2 - top
    pad = max(8, th // 3)
    draw.rounded_rectangle((x - pad, y + top - pad, x + tw + pad, y + bottom + pad), radius=10, fill=bg)
    for word in text.split(" "):
        draw.text((x, y), word, font=font, fill=fg)
        x += font.getlength(word) + word_gap(font)


def scene_image(background, shapes, texts, fonts: Fonts) -> Image.Image:
    img = Image.new("RGB", (W, H), background)
    draw = ImageDraw.Draw(img)
    for shape in shapes:
        shape(draw)
    for text, cy, size, fg, bg in texts:
        text_panel(img, fonts, text, cy, size, fg, bg)
    return img


def frames(scenes: list[Image.Image], n_frames: int, bar=(255, 255, 255)):
    """Equal-length static scenes with hard cuts; a thin progress bar gives each frame a little motion."""
    per = n_frames // len(scenes)
    for f in range(n_frames):
        k = min(f // per, len(scenes) - 1)
        img = scenes[k].copy()
        ImageDraw.Draw(img).rectangle((0, H - 4, int(W * (f + 1) / n_frames), H - 1), fill=bar)
        yield img.tobytes()


def scene_starts_s(n_scenes: int, n_frames: int) -> list[float]:
    per = n_frames // n_scenes
    return [round(i * per / FPS, 2) for i in range(n_scenes)]


# shapes: each a function of an ImageDraw
def circle(cx, cy, r, fill, outline=None, width=1):
    return lambda d: d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)


def ellipse(box, fill, outline=None, width=1):
    return lambda d: d.ellipse(box, fill=fill, outline=outline, width=width)


def rect(box, fill, outline=None, width=1):
    return lambda d: d.rectangle(box, fill=fill, outline=outline, width=width)


def poly(points, fill, outline=None):
    return lambda d: d.polygon(points, fill=fill, outline=outline)


def stars(seed: int, n: int, colour=(235, 235, 255)):
    rng = np.random.default_rng(seed)
    pts = [(int(x), int(y), int(s)) for x, y, s in zip(rng.integers(0, W, n), rng.integers(0, H, n),
                                                        rng.integers(1, 3, n))]
    return lambda d: [d.ellipse((x - s, y - s, x + s, y + s), fill=colour) for x, y, s in pts]


# ---------------------------------------------------------------- encoding

def encode_video(ff: str, out: Path, frame_bytes, audio_wav: Path | None) -> None:
    cmd = [ff, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", str(FPS), "-i", "-"]
    if audio_wav is not None:
        cmd += ["-i", str(audio_wav)]
    cmd += ["-map", "0:v"] + (["-map", "1:a"] if audio_wav is not None else [])
    cmd += ["-c:v", "libx264", "-preset", "medium", "-crf", "30", "-pix_fmt", "yuv420p", "-g", str(FPS * 2),
            "-threads", "1", "-x264-params", "threads=1"]
    if audio_wav is not None:
        cmd += ["-c:a", "aac", "-b:a", "32k", "-ar", str(AUDIO_RATE), "-ac", "1"]
    else:
        cmd += ["-an"]
    cmd += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-movflags", "+faststart", str(out)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for chunk in frame_bytes:
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        die(f"ffmpeg failed writing {out.name}")


def encode_mp3(ff: str, out: Path, audio_wav: Path) -> None:
    cmd = [ff, "-y", "-loglevel", "error", "-i", str(audio_wav), "-c:a", "libmp3lame", "-b:a", "32k",
           "-ar", str(AUDIO_RATE), "-ac", "1", "-map_metadata", "-1", "-fflags", "+bitexact",
           "-flags:a", "+bitexact", "-id3v2_version", "0", "-write_xing", "1", str(out)]
    if subprocess.run(cmd).returncode != 0:
        die(f"ffmpeg failed writing {out.name}")


def probe(ff: str, path: Path) -> dict:
    """Streams and duration from `ffmpeg -i` (the bundled ffmpeg has no ffprobe)."""
    err = subprocess.run([ff, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None
    return {"has_video": bool(re.search(r"Stream #\S+.*: Video:", err)),
            "has_audio": bool(re.search(r"Stream #\S+.*: Audio:", err)), "duration_s": duration}


# ---------------------------------------------------------------- the fixtures

def n_frames_for(audio_len_s: float, minimum_s: float, scenes: int = 3) -> int:
    """Frames covering the speech plus a short tail, a whole number of frames per scene."""
    n = math.ceil(max(audio_len_s + 0.6, minimum_s) * FPS)
    return math.ceil(n / scenes) * scenes


def pad(samples: np.ndarray, seconds: float) -> np.ndarray:
    n = int(round(seconds * AUDIO_RATE))
    return np.concatenate([samples, np.zeros(max(0, n - len(samples)), np.int16)])[:n]


def make_tomato(ff, out_dir, tmp, fonts) -> dict:
    phrases = ["Welcome back to the kitchen.", "Today we are making a fresh tomato soup with garlic and basil."]
    audio = speak(phrases, "en-us", 150)
    n = n_frames_for(len(audio) / AUDIO_RATE, 6.0)
    wav = tmp / "tomato.wav"
    write_wav(wav, pad(audio, n / FPS))
    texts = ["Tomato Soup Recipe", "Step 1: Chop the garlic", "Serve with fresh basil"]
    scenes = [
        scene_image((250, 226, 160), [   # warm yellow: a big tomato
            circle(240, 185, 62, (214, 40, 40), (120, 20, 20), 3),
            poly([(240, 122), (222, 110), (236, 116), (240, 100), (246, 116), (262, 110)], (40, 140, 50)),
            circle(95, 200, 26, (230, 70, 50)), circle(385, 200, 26, (230, 70, 50))],
            [(texts[0], 55, 40, (255, 255, 255), (150, 20, 20))], fonts),
        scene_image((70, 110, 160), [    # slate blue: chopping board and garlic
            rect((60, 150, 420, 250), (190, 140, 90), (110, 70, 40), 3),
            ellipse((120, 170, 190, 230), (245, 245, 235), (160, 160, 150), 2),
            ellipse((210, 175, 270, 228), (245, 245, 235), (160, 160, 150), 2),
            ellipse((290, 180, 340, 226), (245, 245, 235), (160, 160, 150), 2),
            rect((350, 165, 410, 175), (200, 200, 210))],
            [(texts[1], 60, 34, (20, 20, 20), (255, 255, 255))], fonts),
        scene_image((40, 90, 50), [      # dark green: a bowl of soup with basil
            ellipse((130, 140, 350, 250), (245, 245, 245), (200, 200, 200), 3),
            ellipse((150, 150, 330, 205), (200, 50, 30)),
            ellipse((215, 160, 245, 178), (70, 170, 70)), ellipse((245, 168, 275, 186), (60, 150, 60))],
            [(texts[2], 60, 36, (30, 60, 30), (240, 250, 235))], fonts),
    ]
    name = "tomato_soup_recipe.mp4"
    encode_video(ff, out_dir / name, frames(scenes, n), wav)
    return {"name": name, "expected": {
        "language": "en", "transcript": " ".join(phrases), "on_screen_text": texts,
        "has_audio": True, "has_video": True, "duration_s": round(n / FPS, 2),
        "scene_starts_s": scene_starts_s(3, n)},
        "meta": {"title": "Fresh Tomato Soup with Garlic and Basil",
                 "description": "A quick home-kitchen recipe: chop the garlic, simmer ripe tomatoes, "
                                "and serve the soup with fresh basil.",
                 "tags": ["cooking", "recipe", "soup", "tomato", "vegetarian"],
                 "uploader": "Weeknight Kitchen", "published_at": "2024-03-05T17:30:00Z"}}


# Spoken Mandarin: what is said (characters) and what espeak-ng reads (pinyin, tone numbers, one phrase per pause).
# "jian" is written "zian" in 空间站 and 火箭 on purpose: see the module docstring.
MANDARIN_TEXT = "欢迎收看太空探索节目。今天我们去空间站，看火箭发射。"
MANDARIN_PINYIN = ["huan1ying2 shou1kan4 tai4kong1 tan4suo3 jie2mu4.",
                   "jin1tian1 wo3men5 qu4 kong1zian1zhan4,",
                   "kan4 huo3zian4 fa1she4."]


def make_space(ff, out_dir, tmp, fonts) -> dict:
    audio = speak(MANDARIN_PINYIN, "cmn-latn-pinyin+f3", 140)
    n = n_frames_for(len(audio) / AUDIO_RATE, 6.0)
    wav = tmp / "space.wav"
    write_wav(wav, pad(audio, n / FPS))
    zh = ["太空探索", "火箭发射", "国际空间站"]
    en = ["Space Exploration", "Rocket Launch", "International Space Station"]
    rocket = [poly([(240, 88), (224, 120), (224, 188), (256, 188), (256, 120)], (235, 235, 240)),
              poly([(224, 160), (205, 198), (224, 188)], (200, 40, 40)),
              poly([(256, 160), (275, 198), (256, 188)], (200, 40, 40)),
              poly([(230, 188), (240, 222), (250, 188)], (255, 200, 40)),
              circle(240, 134, 8, (80, 160, 230))]
    station = [rect((110, 160, 215, 190), (60, 90, 170), (200, 210, 230)),
               rect((265, 160, 370, 190), (60, 90, 170), (200, 210, 230)),
               rect((215, 150, 265, 200), (210, 210, 215)), rect((235, 110, 245, 240), (180, 180, 185)),
               circle(240, 175, 12, (240, 200, 60))]
    scenes = [
        scene_image((8, 12, 40), [stars(1, 70), circle(390, 200, 45, (60, 120, 200)),
                                  circle(380, 190, 14, (90, 170, 90))],
                    [(zh[0], 70, 52, (255, 255, 255), (30, 40, 120)), (en[0], 225, 30, (255, 255, 255), (0, 0, 0))],
                    fonts),
        scene_image((255, 140, 60), [rect((0, 222, W, H), (90, 70, 60))] + rocket,
                    [(zh[1], 50, 48, (255, 255, 255), (140, 30, 20)), (en[1], 243, 30, (255, 255, 255), (0, 0, 0))],
                    fonts),
        scene_image((0, 0, 0), [stars(2, 50), circle(60, 250, 90, (40, 90, 160))] + station,
                    [(zh[2], 60, 46, (20, 20, 20), (245, 215, 80)), (en[2], 232, 30, (255, 255, 255), (60, 60, 60))],
                    fonts),
    ]
    name = "space_station_mandarin.mp4"
    encode_video(ff, out_dir / name, frames(scenes, n), wav)
    return {"name": name, "expected": {
        "language": "zh", "transcript": MANDARIN_TEXT, "on_screen_text": [t for pair in zip(zh, en) for t in pair],
        "has_audio": True, "has_video": True, "duration_s": round(n / FPS, 2),
        "scene_starts_s": scene_starts_s(3, n)},
        "meta": {"title": "太空探索：参观空间站，看火箭发射",
                 "description": "本期太空探索节目带你参观国际空间站，并现场观看火箭发射。",
                 "tags": ["太空", "火箭", "空间站", "科普", "航天"],
                 "uploader": "星空科普频道", "published_at": "2024-04-12T20:00:00+08:00"}}


def make_podcast(ff, out_dir, tmp, fonts) -> dict:
    phrases = ["This is the weekend gardening podcast.",
               "This week we talk about pruning apple trees and growing roses in small gardens."]
    audio = speak(phrases, "en-gb", 150)
    duration = math.ceil((len(audio) / AUDIO_RATE + 0.6) * 10) / 10
    wav = tmp / "podcast.wav"
    write_wav(wav, pad(audio, duration))
    name = "gardening_podcast.mp3"
    encode_mp3(ff, out_dir / name, wav)
    return {"name": name, "expected": {
        "language": "en", "transcript": " ".join(phrases), "on_screen_text": [],
        "has_audio": True, "has_video": False, "duration_s": duration},
        "meta": {"title": "Weekend Gardening Podcast: Pruning Apple Trees and Small-Garden Roses",
                 "description": "This week: when and how to prune apple trees, and growing roses in small gardens.",
                 "tags": ["gardening", "podcast", "apple trees", "roses", "pruning"],
                 "uploader": "Weekend Gardening", "published_at": "2024-02-17T08:00:00Z"}}


def make_quarterly(ff, out_dir, tmp, fonts) -> dict:
    n = 3 * 62  # 7.44 s
    texts = ["Quarterly Sales Report", "Revenue grew twelve percent", "Next quarter: expand to Asia"]
    bars = [rect((120 + i * 60, 230 - h, 160 + i * 60, 230), (70, 130, 200)) for i, h in
            enumerate((40, 55, 70, 100))]
    scenes = [
        scene_image((255, 255, 255), [rect((0, 0, W, 12), (20, 50, 110)), rect((0, 150, W, 154), (20, 50, 110))],
                    [(texts[0], 90, 38, (255, 255, 255), (20, 50, 110))], fonts),
        scene_image((230, 240, 250), bars + [rect((110, 230, 370, 233), (40, 40, 40)),
                                             poly([(372, 120), (392, 150), (352, 150)], (40, 160, 60))],
                    [(texts[1], 55, 34, (255, 255, 255), (30, 110, 50))], fonts),
        scene_image((250, 240, 225), [circle(240, 185, 55, (90, 150, 210), (40, 80, 130), 3),
                                      ellipse((215, 160, 275, 205), (120, 180, 100)),
                                      poly([(60, 185), (150, 170), (150, 200)], (220, 120, 40))],
                    [(texts[2], 60, 34, (255, 255, 255), (180, 80, 20))], fonts),
    ]
    name = "quarterly_report_silent.mp4"
    encode_video(ff, out_dir / name, frames(scenes, n, bar=(20, 50, 110)), None)
    return {"name": name, "expected": {
        "language": None, "transcript": "", "on_screen_text": texts,
        "has_audio": False, "has_video": True, "duration_s": round(n / FPS, 2),
        "scene_starts_s": scene_starts_s(3, n)},
        "meta": {"title": "Quarterly Sales Report Q1",
                 "description": "Slides from the quarterly sales review: revenue up twelve percent, "
                                "and the plan to expand to Asia next quarter.",
                 "tags": ["business", "sales", "report", "slides"],
                 "uploader": "Acme Corp Internal", "published_at": "2024-04-02T09:00:00Z"}}


README = """# media_fixtures

Small synthetic media for ReelMind's tests and demos, generated by `scripts/make_fixtures.py`
(espeak-ng speech, Pillow-drawn pictures, encoded with imageio-ffmpeg's ffmpeg). Regenerate with
`python scripts/make_fixtures.py`; do not edit by hand.

| file | what it is |
|---|---|
| `tomato_soup_recipe.mp4` | English speech (espeak-ng en-us) about tomato soup; 3 hard-cut scenes with English text |
| `space_station_mandarin.mp4` | Mandarin speech (espeak-ng cmn-latn-pinyin) about a space station and a rocket launch; 3 scenes with Chinese text and English subtitles |
| `gardening_podcast.mp3` | audio only: English speech (espeak-ng en-gb) introducing a gardening podcast |
| `quarterly_report_silent.mp4` | video with no audio stream: 3 slides of English text |

Each media file has a sidecar `<file name>.json` with platform-style metadata (title, description, tags, uploader,
published_at). `expected.json` holds, per file, the language, the exact scripted speech, the text drawn on screen,
which streams exist, the approximate duration and the scene start times: what tests check against. Speech is
synthetic, so a speech recogniser's transcript only approximates the scripted text (the Mandarin especially).

Licence: generated by the ReelMind project; same licence as the project (Apache-2.0).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "media_fixtures", help="output folder")
    args = parser.parse_args(argv)

    check_espeak()
    font_path, font_index = find_cjk_font()
    ff = ffmpeg_exe()
    fonts = Fonts(font_path, font_index)
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    expected = {}
    with tempfile.TemporaryDirectory(prefix="reelmind-fixtures-") as tmp:
        for make in (make_tomato, make_space, make_podcast, make_quarterly):
            made = make(ff, out_dir, Path(tmp), fonts)
            name = made["name"]
            (out_dir / f"{name}.json").write_text(
                json.dumps(made["meta"], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            expected[name] = made["expected"]
            got = probe(ff, out_dir / name)
            want = made["expected"]
            if (got["has_audio"], got["has_video"]) != (want["has_audio"], want["has_video"]):
                die(f"{name}: streams are audio={got['has_audio']} video={got['has_video']}, "
                    f"expected audio={want['has_audio']} video={want['has_video']}")
            size_kb = (out_dir / name).stat().st_size / 1024
            print(f"{name}: {size_kb:.0f} KiB, {got['duration_s']:.2f} s, "
                  f"audio={got['has_audio']} video={got['has_video']}")
    (out_dir / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    (out_dir / "README.md").write_text(README, encoding="utf-8")
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file()) / 1024
    print(f"wrote {out_dir} ({total:.0f} KiB, font {Path(font_path).name}#{font_index}) "
          f"in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
