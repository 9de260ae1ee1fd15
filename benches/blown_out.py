"""Share of blown-out pixels (made near-white where the photo was not: smallest channel
>= 248 in the output, < 235 in the photo; the definition of nst-eval's `blown_out`) for
stylized images next to their photos, without the VGG pass of nst-eval: the outputs of
benches/eval_styles.sh (OUT/<model>/<photo set>/<photo name>) against the photos.

    python benches/blown_out.py OUT PHOTO_DIR [PHOTO_DIR ...]
"""

import collections
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def blown(out_path, photo_path):
    out = np.asarray(Image.open(out_path).convert("RGB"))
    photo = Image.open(photo_path)
    from PIL import ImageOps
    photo = ImageOps.exif_transpose(photo).convert("RGB").resize((out.shape[1], out.shape[0]), Image.BICUBIC)
    photo = np.asarray(photo)
    return float(((out.min(axis=2) >= 248) & (photo.min(axis=2) < 235)).mean())


def main():
    out, dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
    by_model = collections.defaultdict(list)
    for model in sorted(p for p in out.iterdir() if p.is_dir()):
        for d in dirs:
            for f in sorted((model / d.name).glob("*")):
                photo = d / f.name
                if photo.exists():
                    by_model[model.name].append((f.name, blown(f, photo)))
    for name, rows in by_model.items():
        worst = max(rows, key=lambda r: r[1])
        print(f"{name:<34} blown-out {100 * np.mean([r[1] for r in rows]):6.3f}%  (n={len(rows)}, worst {worst[0]} {100 * worst[1]:.2f}%)")


if __name__ == "__main__":
    main()
