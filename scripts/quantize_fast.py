"""Makes the int8 copy of fast models: weights/<style>.fast.onnx -> weights/<style>.fast.int8.onnx.

ONNX Runtime's static quantization (QDQ format: QuantizeLinear/DequantizeLinear around
every Conv, which ONNX Runtime fuses into int8 convolutions), weights per output channel
(int8), activations per tensor (uint8) with ranges calibrated on photos at 640x480: min/max
(the default), or `--calibration percentile` (the 99.99th percentile of each activation's
values: rare outliers no longer stretch the range; Udnie's flat planes need it). The
instance normalisations stay float. The model's metadata is copied and
`nst.quantization` added (method, calibration photos, onnxruntime version), so the runtime
knows the file as the int8 copy of the same style. The float model stays the reference:
blends, tiles and training start from it; `nst live` runs the int8 copy (`--precision`).

    .venv/bin/python scripts/quantize_fast.py [--photos DIR] [--count 24] [--calibration minmax|percentile] MODEL.fast.onnx ...

Photos: --photos (default the training split /work/data/photos800_train when it exists,
else assets/photos); every n-th file of the sorted folder, so the choice is fixed.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
SIZE = (640, 480)


def calibration_photos(folder: Path, count: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        sys.exit(f"quantize_fast: no photos in {folder} (pass --photos DIR)")
    step = max(1, len(files) // count)
    return files[::step][:count]


class Photos(CalibrationDataReader):
    def __init__(self, input_name: str, photos: list[Path]):
        self.input_name = input_name
        self.photos = iter(photos)

    def get_next(self):
        for path in self.photos:
            try:
                img = Image.open(path).convert("RGB")
            except OSError as e:
                print(f"quantize_fast: skipping {path}: {e}", file=sys.stderr)
                continue
            # Letterboxed like a camera frame: fill 640x480, crop the overflow.
            scale = max(SIZE[0] / img.width, SIZE[1] / img.height)
            img = img.resize((max(SIZE[0], round(img.width * scale)), max(SIZE[1], round(img.height * scale))), Image.BILINEAR)
            left, top = (img.width - SIZE[0]) // 2, (img.height - SIZE[1]) // 2
            img = img.crop((left, top, left + SIZE[0], top + SIZE[1]))
            return {self.input_name: np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None].copy()}
        return None


def int8_path(model: Path) -> Path:
    return model.with_name(model.name[: -len(".onnx")] + ".int8.onnx")


CALIBRATIONS = {
    "minmax": (dict(calibrate_method=CalibrationMethod.MinMax), "min/max"),
    "percentile": (
        dict(calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": 99.99}),
        "99.99th percentile",
    ),
}


def quantize(model: Path, photos: list[Path], calibration: str = "minmax") -> Path:
    src = onnx.load(str(model))
    meta = {p.key: p.value for p in src.metadata_props}
    if "nst.quantization" in meta:
        sys.exit(f"quantize_fast: {model} is already quantized")
    if json.loads(meta.get("nst.hyperparameters", "{}")).get("family") != "nst_fast":
        print(f"quantize_fast: warning: {model} is not a fast model; quantizing it anyway", file=sys.stderr)
    out = int8_path(model)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        quantize_static(
            str(model),
            str(staged),
            Photos(src.graph.input[0].name, photos),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            **CALIBRATIONS[calibration][0],
            # Only the convolutions: the instance normalisations stay float.
            op_types_to_quantize=["Conv"],
        )
        q = onnx.load(str(staged))
        del q.metadata_props[:]
        meta["nst.quantization"] = json.dumps(
            {
                "method": "onnxruntime quantize_static, QDQ, Conv only, weights int8 per channel, "
                f"activations uint8 per tensor ({CALIBRATIONS[calibration][1]})",
                "calibration_method": calibration,
                "calibration": f"{len(photos)} photos at {SIZE[0]}x{SIZE[1]}",
                "onnxruntime": onnxruntime.__version__,
                "float_model": model.name,
            }
        )
        for k, v in meta.items():
            q.metadata_props.add(key=k, value=v)
        onnx.save(q, str(staged))
        os.replace(staged, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    default = Path("/work/data/photos800_train")
    ap.add_argument("--photos", type=Path, default=default if default.is_dir() else ROOT / "assets" / "photos")
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--calibration", choices=sorted(CALIBRATIONS), default="minmax",
                    help="how activation ranges are set: min/max, or the 99.99th percentile (outliers cut)")
    args = ap.parse_args()
    photos = calibration_photos(args.photos, args.count)
    for model in args.models:
        if not model.is_file():
            sys.exit(f"quantize_fast: {model}: no such model file")
        out = quantize(model, photos, args.calibration)
        print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB, {args.calibration} ranges from {len(photos)} photos of {args.photos})")


if __name__ == "__main__":
    main()
