"""Adds lettering to a training set, so that a style learns to keep text readable: photos
with few signs in them teach a network nothing about letters, and styles of flat planes
(Picabia's) paint them into bars. Writes DEST, a folder holding a symbolic link to SOURCE
(DEST/photos: nst-train walks it as it walks SOURCE) plus COUNT copies of randomly chosen
photos of SOURCE with signs drawn on them: one
to three panels (dark letters on a light panel, light on a dark or coloured one) or bare
lettering on the photo, with made-up words at 10-56 px in several fonts, at random places.
Beside each, DEST/.masks/<name>.png is its focus mask (white on the letters and a few
pixels around them), for nst-train's --focus-masks DEST/.masks: a style can then be asked
to keep the letters without being asked to keep the rest of the photo.

    python datasets/text_overlay.py SOURCE DEST [COUNT]    (COUNT: 250)

e.g. python datasets/text_overlay.py /work/data/photos800_train /work/data/photos800_train_text

The held-out photos stay unseen (only SOURCE's photos are used), and the font of
benches/text_legibility.py (DejaVu Sans Bold) and its words are left out, so that bench
measures lettering the networks never saw. Seeded (SEED, default 1): the same folder every
time. Needs Debian's fonts-dejavu-core and fonts-liberation.
"""

import os
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]
BENCH_FONT = "DejaVuSans-Bold.ttf"
# The image files nst-train reads (runtime/src/imageio.rs, IMAGE_EXTENSIONS; hidden files
# and folders skipped, folders walked: trainer/src/data.rs).
EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOWELS = "aeiou"


def fail(msg):
    sys.exit(f"text_overlay: {msg}")


def word(rng):
    """A made-up, pronounceable word, sometimes capitalised or all capitals, or a number."""
    if rng.random() < 0.15:
        return str(rng.randint(1, 9999))
    w = "".join(rng.choice(VOWELS if i % 2 else LETTERS) for i in range(rng.randint(2, 9)))
    r = rng.random()
    return w.upper() if r < 0.3 else w.capitalize() if r < 0.7 else w


def colour(rng, light):
    base = rng.randint(205, 250) if light else rng.randint(5, 70)
    return tuple(max(0, min(255, base + rng.randint(-25, 25))) for _ in range(3))


def vivid(rng):
    c = [rng.randint(0, 80), rng.randint(60, 200), rng.randint(150, 255)]
    rng.shuffle(c)
    return tuple(c)


def draw_signs(im, mask, fonts, rng):
    """Draws the signs on im, and their letters, widened by a few pixels, on mask."""
    d = ImageDraw.Draw(im)
    dm = ImageDraw.Draw(mask)
    w, h = im.size
    for _ in range(rng.randint(1, 3)):
        size = rng.choice([10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 56])
        font = ImageFont.truetype(str(rng.choice(fonts)), size)
        lines = [" ".join(word(rng) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 4))]
        boxes = [d.textbbox((0, 0), line, font=font) for line in lines]
        tw = max(b[2] - b[0] for b in boxes) + size
        th = sum(b[3] - b[1] + size // 3 for b in boxes) + size // 2
        x, y = rng.randint(-tw // 4, max(1, w - tw * 3 // 4)), rng.randint(-th // 4, max(1, h - th * 3 // 4))
        kind = rng.random()
        if kind < 0.4:
            paper, ink = colour(rng, True), colour(rng, False)
        elif kind < 0.7:
            paper, ink = colour(rng, False), colour(rng, True)
        elif kind < 0.85:
            paper, ink = vivid(rng), colour(rng, rng.random() < 0.5)
        else:
            paper, ink = None, colour(rng, rng.random() < 0.5)  # letters straight on the photo
        if paper is not None:
            d.rectangle((x, y, x + tw, y + th), fill=paper)
        ty = y + size // 4
        for line, b in zip(lines, boxes):
            d.text((x + size // 2, ty - b[1]), line, font=font, fill=ink)
            dm.text((x + size // 2, ty - b[1]), line, font=font, fill=255, stroke_width=max(2, size // 5), stroke_fill=255)
            ty += b[3] - b[1] + size // 3


def main():
    if len(sys.argv) not in (3, 4):
        fail("usage: text_overlay.py SOURCE DEST [COUNT]")
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    count = sys.argv[3] if len(sys.argv) == 4 else "250"
    if not count.isdigit():
        fail(f"COUNT must be a whole number, not {count!r}")
    count = int(count)
    rng = random.Random(int(os.environ.get("SEED", "1")))
    photos = sorted(p for p in src.rglob("*") if p.suffix.lower() in EXTS and not any(part.startswith(".") for part in p.relative_to(src).parts)) if src.is_dir() else []
    if not photos:
        fail(f"{src}: no photos there")
    fonts = sorted(f for d in FONT_DIRS if d.is_dir() for f in d.glob("*.ttf") if f.name != BENCH_FONT and "Math" not in f.name and "ExtraLight" not in f.name)
    if not fonts:
        fail("no fonts: install Debian's fonts-dejavu-core and fonts-liberation")
    dest.mkdir(parents=True, exist_ok=True)
    masks = dest / ".masks"  # hidden: nst-train does not read it as photos
    masks.mkdir(exist_ok=True)
    link = dest / "photos"
    if not link.exists():
        link.symlink_to(src.resolve(), target_is_directory=True)
    for i in range(count):
        p = rng.choice(photos)
        try:
            im = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        except OSError as e:
            print(f"text_overlay: skipping {p}: {e}", file=sys.stderr)
            continue
        mask = Image.new("L", im.size, 0)
        draw_signs(im, mask, fonts, rng)
        out = dest / f"text{i:04d}_{p.stem}.jpg"
        # The mask first: a photo is never there without its mask.
        for image, path, fmt in ((mask, masks / f"{out.stem}.png", "PNG"), (im, out, "JPEG")):
            tmp = path.parent / f".{path.name}.tmp"  # hidden: nst-train skips it if a run is cut short
            image.save(tmp, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
            tmp.rename(path)
    print(f"text_overlay: {link} links the {len(photos)} photos of {src}; {count} with lettering written in {dest}, their focus masks in {masks}")


if __name__ == "__main__":
    main()
