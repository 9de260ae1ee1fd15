"""The Python side of benches/compare_python.sh: what `nst stylize <folder> -o <out>
--ep cpu` does, written the plain way with onnxruntime (CPU), numpy and Pillow, one image
after another: decode, EXIF-transpose, RGB, fit the longer side to --max-size (bicubic,
like nst's Catmull-Rom), float CHW 0-255, run, round and clamp to uint8, save under the
same name (JPEG quality 92 with 4:4:4 chroma, as nst writes it)."""

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

INPUTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# Output formats nst writes, with its encoder settings; other inputs are saved as PNG.
SAVE_OPTIONS = {
    ".jpg": {"quality": 92, "subsampling": 0},
    ".jpeg": {"quality": 92, "subsampling": 0},
    ".webp": {"lossless": True},
    ".png": {}, ".bmp": {}, ".tif": {}, ".tiff": {},
}


def fit_size(w, h, max_side):
    """nst's imageio::fit_size: the longer side to max_side, rounding half away from zero."""
    longer = max(w, h)
    if not max_side or longer <= max_side:
        return w, h
    scale = max_side / longer
    return max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photos", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--max-size", type=int)
    parser.add_argument("--threads", type=int, help="intra-op threads (default: onnxruntime's)")
    args = parser.parse_args()

    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])

    paths = sorted(
        p for p in args.photos.rglob("*")
        if p.suffix.lower() in INPUTS and not any(part.startswith(".") for part in p.relative_to(args.photos).parts)
    )
    for path in paths:
        img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        size = fit_size(*img.size, args.max_size)
        if size != img.size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        x = np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None])
        y = session.run(["output"], {"input": x})[0][0]
        out = Image.fromarray(np.clip(np.rint(y), 0, 255).astype(np.uint8).transpose(1, 2, 0))
        target = args.output / path.relative_to(args.photos)
        if target.suffix.lower() not in SAVE_OPTIONS:
            target = target.with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        out.save(target, **SAVE_OPTIONS[target.suffix.lower()])
    print(f"stylized {len(paths)} images into {args.output}")


if __name__ == "__main__":
    main()
