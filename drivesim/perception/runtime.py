"""Fast inference of PerceptionNet on the CPU (int8 or fp32) or CUDA (fp16), from the checkpoint.

- `fp32`: BatchNorm folded into the convolutions, channels-last memory; on CUDA under fp16 autocast.
- `int8` (CPU): post-training static quantization with PyTorch's FX graph mode on the x86 backend
  (int8 convolutions with VNNI where the CPU has it; ~3-5x the fp32 speed at this size). Activation
  ranges are observed on training frames at the end of `drivesim train-perception` and stored in
  the checkpoint (`int8_observers`): the checkpoint stays the single source of the weights, and the
  int8 model is rebuilt from it at load. Under `auto`, a checkpoint without them, or a PyTorch
  without FX quantization, runs in fp32; an explicit `int8` then raises.
- `auto`: int8 on the CPU when the checkpoint has observers, else fp32.

`PerceptionRuntime(model, ...)(stacked)` maps the uint8 two-frame stacks of
`drivesim.perception.inputs` (B, H/4, W/4, 96) to the network's last layer (B, 56, H/4, W/4), which
`perception.decode` reads as it is. Where frames are stacked every step (the Detector), `input`
gives an array to stack into that is already the network's input (`forward`): in int8 the
memory of a quantized tensor, into which the stacking writes the halved pixels, so neither the
shift nor the quantized tensor costs a pass over the batch (2.5 ms of a B = 256 step, measured).
"""

from __future__ import annotations

import ctypes
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from drivesim.perception.model import PerceptionNet, fold_batchnorm, output_layer

PRECISIONS = ("auto", "int8", "fp32")
QUANT_ENGINE = "x86"
OUTPUT_MODULE = "2"  # the last convolution in `_layers`' Sequential
INPUT_SCALE = 2.0 / 255.0  # int8 input: the pixels halved (0..127, 7 bits as every int8 activation here)


def _fx() -> Any:
    """PyTorch's FX quantization API (deprecated upstream in favour of torchao, still shipped), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import get_default_qconfig_mapping
            from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    except ImportError:
        return None
    if QUANT_ENGINE not in torch.backends.quantized.supported_engines:
        return None
    return get_default_qconfig_mapping, prepare_fx, convert_fx


def int8_available() -> bool:
    return _fx() is not None


def _layers(model: PerceptionNet) -> nn.Module:
    """The network up to its last convolution (fixed output gains folded in), as one traceable
    module (no dict outputs)."""
    import copy

    return nn.Sequential(copy.deepcopy(model.stem), copy.deepcopy(model.body), output_layer(model)).eval()


def prepare_int8(model: PerceptionNet, height: int = 96, width: int = 96) -> nn.Module:
    """The network with activation observers (conv + BatchNorm + ReLU fused), in float.

    Activations between layers use the x86 default of 7 bits (0..127), so that a pair of products
    summed in 16 bits cannot overflow on CPUs without VNNI. The output layer's activation feeds no
    further layer, so it gets the full 8 bits: its 56 channels share one range, set by the heatmap
    logits (about -20..+15), a step of ~0.14, and every head is regressed in units where that step
    is fine (velocity in m/s, offsets in cells, sizes / 10 px)."""
    api = _fx()
    if api is None:
        raise RuntimeError("int8 inference needs PyTorch's FX quantization with the x86 backend")
    get_mapping, prepare_fx, _ = api
    from torch.ao.quantization import QConfig, get_default_qconfig
    from torch.ao.quantization.observer import HistogramObserver

    torch.backends.quantized.engine = QUANT_ENGINE
    default = get_default_qconfig(QUANT_ENGINE)
    output = QConfig(activation=HistogramObserver.with_args(reduce_range=False), weight=default.weight)
    mapping = get_mapping(QUANT_ENGINE).set_module_name(OUTPUT_MODULE, output)
    example = torch.zeros(1, model.config.in_channels, height // 4, width // 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare_fx(_layers(model), mapping, (example,))


def calibrate(model: PerceptionNet, batches: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Observe activation ranges on `batches` of float inputs (B, 96, h, w); returns the observers'
    state (what a checkpoint stores as `int8_observers`)."""
    prepared = prepare_int8(model, batches[0].shape[2] * 4, batches[0].shape[3] * 4)
    with torch.no_grad():
        for x in batches:
            prepared(x.float().cpu())
    return {k: v.clone() for k, v in prepared.state_dict().items() if "activation_post_process" in k}


def build_int8(model: PerceptionNet, observers: dict[str, torch.Tensor]) -> nn.Module:
    """The int8 network from float weights and stored observer state. It takes a quint8 input with
    scale INPUT_SCALE (the uint8 pixels halved), so its own input quantization is removed, and gives
    its last layer quantized (no dequantization pass: `perception.decode` reads the codes)."""
    prepared = prepare_int8(model)
    own = {k for k in prepared.state_dict() if "activation_post_process" in k}
    if set(observers) != own:
        raise ValueError("the stored int8 observers do not match this network (trained with another PyTorch?)")
    prepared.load_state_dict(observers, strict=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = _fx()[2](prepared)
    for node in list(net.graph.nodes):
        if node.op == "call_function" and node.target is torch.quantize_per_tensor and node.args[0].op == "placeholder":
            node.replace_all_uses_with(node.args[0])
            net.graph.erase_node(node)
        elif node.op == "call_method" and node.target == "dequantize" and [u.op for u in node.users] == ["output"]:
            node.replace_all_uses_with(node.args[0])  # the output stays quantized: decode reads its codes
            net.graph.erase_node(node)
    net.graph.eliminate_dead_code()
    net.recompile()
    return net


class PerceptionRuntime:
    """stacked inputs (B, H/4, W/4, 96) uint8 -> the last layer (B, 56, H/4, W/4), no gradients."""

    def __init__(self, model: PerceptionNet, device: torch.device, precision: str = "auto",
                 observers: dict[str, torch.Tensor] | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} unknown; allowed {PRECISIONS}")
        self.device = device
        want_int8 = precision == "int8" or (precision == "auto" and observers is not None and device.type == "cpu")
        if want_int8 and device.type != "cpu":
            raise ValueError("int8 inference runs on the CPU; use --precision fp32 (fp16 autocast) on CUDA")
        if want_int8 and observers is None:
            raise ValueError("int8 inference needs a checkpoint with int8_observers (written by drivesim train-perception)")
        if precision == "int8" and not int8_available():
            raise RuntimeError("--precision int8 needs PyTorch's FX quantization with the x86 backend, which this "
                               "PyTorch lacks; use --precision fp32 (or auto)")
        self.precision = "int8" if want_int8 and int8_available() else "fp32"
        if self.precision == "int8":
            self.net = build_int8(model.cpu(), observers)
        else:
            self.net = _layers(fold_batchnorm(model)).to(device, memory_format=torch.channels_last)

    @property
    def shift(self) -> int:
        """Right shift of the stacked pixels the network takes (int8: 7-bit pixels, see INPUT_SCALE)."""
        return 1 if self.precision == "int8" else 0

    def input(self, shape: tuple[int, ...]) -> tuple[np.ndarray, torch.Tensor]:
        """An uninitialised (B, H/4, W/4, 96) uint8 array to stack pixels >> `shift` into, and the
        tensor `forward` takes, over the same memory: in int8 a quantized tensor (scale
        INPUT_SCALE), whose memory numpy reaches only by address (torch gives no numpy view of
        quantized tensors; the tensor must outlive the array, as both do inside one call)."""
        if self.precision != "int8":
            array = np.empty(shape, dtype=np.uint8)
            return array, torch.from_numpy(array)
        q = torch._empty_affine_quantized(shape, scale=INPUT_SCALE, zero_point=0, dtype=torch.quint8)
        array = np.ctypeslib.as_array((ctypes.c_uint8 * q.numel()).from_address(q.data_ptr())).reshape(shape)
        return array, q

    @torch.no_grad()
    def __call__(self, stacked: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(stacked)
        if self.precision == "int8":  # the halved pixels are the quantized input: (value >> 1) * 2 / 255
            x = torch._make_per_tensor_quantized_tensor(torch.bitwise_right_shift(x, 1), INPUT_SCALE, 0)
        out = self.forward(x)
        return out.dequantize() if out.is_quantized else out

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer from the network's input: `input`'s tensor, the stacked pixels (int8: >> 1,
        quantized); in int8 the layer comes quantized (`decode` reads it so)."""
        if self.precision == "int8":
            return self.net(x.permute(0, 3, 1, 2))
        x = x.to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)  # channels-last view of (B, h, w, 96): no copy
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                return self.net(x)
        return self.net(x)
