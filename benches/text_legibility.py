"""How small a model's lettering can be and still be read: draws a card of text lines at
several font sizes (dark on a light panel, light on a dark one) over a photo, stylizes it
with each model (`nst stylize`, at the card's own size, 512 x 384), and has OCR (tesseract,
one line at a time, enlarged 3x) read every line of the output. A line's score is the share
of its characters read right (1 = all; the card itself reads 1.00 on every line).

Prints a table (model x font size in pixels: the mean score of the lines of that size),
the mean over the 22-40 px lines (8 lines: steadier than any one size, since OCR now and
then reads nothing of a line an eye reads) and, per model, the smallest size down to
which every size scores at least LEGIBLE
(0.8), and writes the card and every output under OUT, to look at. OCR is stricter than an
eye (a painted texture over the letters costs it more than a reader), so compare models
with it rather than read it as a yes or no.

    python benches/text_legibility.py [MODEL ...]    (default: every model in weights/)

Environment: PHOTO (the background, default ../shared/photos/tubingen.jpg, or a grey
gradient when it is missing), OUT (out/text), NST (target/release/nst), THREADS (1),
LEGIBLE (0.8). Needs Debian's tesseract-ocr and fonts-dejavu-core (DejaVu Sans Bold).
"""

import difflib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
W, H = 512, 384
# Per font size (px), one line for the light panel (dark letters) and one for the dark panel
# (light letters): two lines per size, so that one misread does not decide a size.
ROWS = [(40, "STOP 40", "EXIT 40"), (32, "Hotel 32", "Taxi 32"), (26, "Museum 26", "Gate B 26"), (22, "Bakery 22", "Station 22"), (18, "Platform 18", "Main st. 18"), (15, "No parking 15", "Open 9-17 15"), (12, "Hours 8 to 20 12", "Route 66 south 12")]


def fail(msg):
    sys.exit(f"text_legibility: {msg}")


def background():
    photo = Path(os.environ.get("PHOTO", ROOT.parent / "shared" / "photos" / "tubingen.jpg"))
    if photo.exists():
        im = Image.open(photo).convert("RGB")
        im = im.resize((W, max(H, round(im.height * W / im.width))), Image.BICUBIC)
        return im.crop((0, 0, W, H))
    ramp = np.linspace(60, 200, W, dtype=np.float32)[None, :, None] * np.ones((H, 1, 3), np.float32)
    return Image.fromarray(ramp.astype(np.uint8))


def card():
    """The card, and the box (x0, y0, x1, y1), font size and text of every line."""
    if not FONT.exists():
        fail(f"{FONT} is missing: install Debian's fonts-dejavu-core")
    im = background()
    d = ImageDraw.Draw(im)
    lines = []

    def panel(box, rows, ink, paper):
        d.rectangle(box, fill=paper)
        x, y = box[0] + 8, box[1] + 6
        for size, text in rows:
            font = ImageFont.truetype(str(FONT), size)
            d.text((x, y), text, font=font, fill=ink)
            l, t, r, b = d.textbbox((x, y), text, font=font)
            pad = max(2, size // 6)
            lines.append(((l - pad, t - pad, r + pad, b + pad), size, text))
            y += size + max(8, size // 3)

    panel((8, 8, 252, 248), [(size, light) for size, light, _ in ROWS], (20, 20, 25), (235, 232, 220))
    panel((260, 8, 504, 248), [(size, dark) for size, _, dark in ROWS], (250, 250, 250), (30, 40, 90))
    return im, lines


def read(grey, box):
    """What OCR (tesseract, one line of text) reads in `box` of the greyscale `grey`,
    enlarged 3x."""
    line = grey.crop(box)
    png = io.BytesIO()
    line.resize((line.width * 3, line.height * 3), Image.LANCZOS).save(png, "PNG")
    r = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "7"], input=png.getvalue(), capture_output=True)
    if r.returncode != 0:
        fail(f"tesseract failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode(errors="replace").strip()


def similarity(want, got):
    """Share of the characters read right (difflib's ratio, case ignored): 1 = all."""
    return difflib.SequenceMatcher(None, want.lower(), got.lower()).ratio()


def main():
    nst = Path(os.environ.get("NST", ROOT / "target" / "release" / "nst"))
    out = Path(os.environ.get("OUT", ROOT / "out" / "text"))
    legible = float(os.environ.get("LEGIBLE", "0.8"))
    models = [Path(m) for m in sys.argv[1:]] or sorted((ROOT / "weights").glob("*.onnx"))
    if not nst.exists():
        fail(f"{nst} is missing: run make build")
    if shutil.which("tesseract") is None:
        fail("tesseract is missing: apt-get install tesseract-ocr")
    for m in models:
        if not m.exists():
            fail(f"{m}: no such model")
    out.mkdir(parents=True, exist_ok=True)
    im, lines = card()
    card_path = out / "card.png"
    im.save(card_path)
    sizes = sorted({size for _, size, _ in lines}, reverse=True)
    print(f"{'model':<36}" + "".join(f"{s:>6}" for s in sizes) + f"  {'22-40':>6}   legible down to")
    for m in [None, *models]:
        if m is None:
            name, styled = "(the card itself)", im
        else:
            name, path = m.stem, out / f"{m.stem}.png"
            r = subprocess.run([str(nst), "stylize", str(card_path), "-o", str(path), "--model", str(m), "-q", "--threads", os.environ.get("THREADS", "1")], capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"nst stylize failed on {m}:\n{r.stderr}")
            styled = Image.open(path)
            if styled.size != (W, H):
                fail(f"{path} is {styled.size}, not {(W, H)}")
        grey = styled.convert("L")
        by_size = {}
        for box, size, text in lines:
            by_size.setdefault(size, []).append(similarity(text, read(grey, box)))
        means = {s: sum(v) / len(v) for s, v in by_size.items()}
        ok = [s for s in sizes if all(means[t] >= legible for t in sizes if t >= s)]
        large = [means[s] for s in sizes if s >= 22]
        print(f"{name:<36}" + "".join(f"{means[s]:6.2f}" for s in sizes) + f"  {sum(large) / len(large):6.2f}   {str(min(ok)) + ' px' if ok else 'none'}")


if __name__ == "__main__":
    main()
