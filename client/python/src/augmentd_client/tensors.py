"""Conversions between image batches (NumPy arrays, PyTorch tensors) and the API's tensor
format: raw little-endian bytes with a dtype, a layout and a 4-D shape (`RawBatch`).

`encode` remembers what it was given (`BatchSpec`: array or tensor, dtype, device, layout) so
that `decode` hands back the augmented images in the same form. torch is imported only when a
tensor is passed, so NumPy users do not need it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._proto import augmenter_pb2
from .errors import invalid_input

#: The element types the API carries, by NumPy name.
DTYPES = {
    "uint8": augmenter_pb2.DTYPE_UINT8,
    "float32": augmenter_pb2.DTYPE_FLOAT32,
    "float16": augmenter_pb2.DTYPE_FLOAT16,
}
_WIRE_NUMPY: dict[str, np.dtype[Any]] = {
    "uint8": np.dtype("<u1"),
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
}
LAYOUTS = {"NCHW": augmenter_pb2.LAYOUT_NCHW, "NHWC": augmenter_pb2.LAYOUT_NHWC}
_DTYPE_NAMES: dict[int, str] = {int(value): name for name, value in DTYPES.items()}
_LAYOUT_NAMES: dict[int, str] = {int(value): name for name, value in LAYOUTS.items()}
#: Channel counts `layout="auto"` recognises (greyscale, RGB).
AUTO_CHANNELS = (1, 3)

Images = Any  # a numpy.ndarray or a torch.Tensor (torch is optional)


@dataclass(frozen=True)
class RawBatch:
    """A batch as the API carries it: `data` holds product(shape) elements of `dtype`
    (`uint8`, `float32`, `float16`), little-endian, in `layout` (`NCHW`, `NHWC`) order."""

    data: bytes
    dtype: str
    layout: str
    shape: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        """The batch as a (writable) NumPy array of its shape; refuses a byte count that does
        not match the shape."""
        wire = _WIRE_NUMPY[self.dtype]
        count = int(np.prod(self.shape)) if self.shape else 0
        if len(self.data) != count * wire.itemsize:
            raise invalid_input(
                "data",
                f"{len(self.data)} bytes given, shape {list(self.shape)} of {self.dtype} needs {count * wire.itemsize}",
            )
        array: np.ndarray = np.frombuffer(self.data, dtype=wire).reshape(self.shape)
        return array.astype(wire.newbyteorder("="), copy=True)


@dataclass(frozen=True)
class BatchSpec:
    """What `encode` was given, so that `decode` answers in kind."""

    #: "numpy" or "torch".
    kind: str
    #: The NumPy dtype name (`uint8`, `float32`, `float16`).
    dtype: str
    #: The layout sent (`NCHW` or `NHWC`).
    layout: str
    #: The tensor's device (torch only).
    device: Any = None


def dtype_name(value: int) -> str:
    """The name of a wire `DType` value."""
    try:
        return _DTYPE_NAMES[value]
    except KeyError:
        raise invalid_input("dtype", f"the server answered unknown dtype {value}") from None


def layout_name(value: int) -> str:
    """The name of a wire `Layout` value."""
    try:
        return _LAYOUT_NAMES[value]
    except KeyError:
        raise invalid_input("layout", f"the server answered unknown layout {value}") from None


def normalize_layout(layout: str) -> str:
    """`nchw`/`NCHW`/`auto` -> `NCHW`/`auto`; refuses anything else."""
    upper = layout.strip().upper()
    if upper == "AUTO":
        return "auto"
    if upper not in LAYOUTS:
        raise invalid_input("layout", f"{layout!r}: expected 'NCHW', 'NHWC' or 'auto'")
    return upper


def resolve_layout(shape: Sequence[int], layout: str) -> str:
    """The layout of a 4-D `shape`: `layout` itself, or with `auto` the one whose channel
    dimension is 1 or 3 (refused when both or neither are)."""
    layout = normalize_layout(layout)
    if layout != "auto":
        return layout
    nchw = shape[1] in AUTO_CHANNELS
    nhwc = shape[3] in AUTO_CHANNELS
    if nchw != nhwc:
        return "NCHW" if nchw else "NHWC"
    raise invalid_input(
        "layout",
        f"cannot tell NCHW from NHWC for shape {list(shape)} (auto recognises {AUTO_CHANNELS} channels); "
        "pass layout='NCHW' or layout='NHWC'",
    )


def _torch_module() -> Any:
    return sys.modules.get("torch")


def is_torch_tensor(value: object) -> bool:
    """Whether `value` is a torch.Tensor (without importing torch)."""
    torch = _torch_module()
    return torch is not None and isinstance(value, torch.Tensor)


def _numpy_of(images: Images) -> tuple[np.ndarray, str, Any]:
    """(array, kind, device) of a NumPy array or a torch tensor."""
    if isinstance(images, np.ndarray):
        return images, "numpy", None
    if is_torch_tensor(images):
        torch = _torch_module()
        allowed = {torch.uint8, torch.float32, torch.float16}
        if images.dtype not in allowed:
            raise invalid_input(
                "dtype",
                f"{images.dtype} is not supported: convert the batch to torch.uint8, torch.float32 or torch.float16",
            )
        return images.detach().to("cpu").contiguous().numpy(), "torch", images.device
    raise invalid_input("batch", f"expected a numpy.ndarray or a torch.Tensor, got {type(images).__name__}")


def encode(images: Images, layout: str = "auto") -> tuple[RawBatch, BatchSpec]:
    """The `RawBatch` of a 4-D uint8/float32/float16 array or tensor, and its `BatchSpec`.
    Malformed dimensions (zero sizes, a channel count the model cannot take) are left to the
    server, which names the field."""
    array, kind, device = _numpy_of(images)
    if array.ndim != 4:
        raise invalid_input(
            "shape",
            f"{array.ndim} dimensions {list(array.shape)} given, expected 4: [images, channels, height, width] (NCHW) "
            "or [images, height, width, channels] (NHWC)",
        )
    name = array.dtype.name
    if name not in DTYPES:
        raise invalid_input("dtype", f"{name} is not supported: convert the batch to uint8, float32 or float16")
    resolved = resolve_layout(array.shape, layout)
    wire = np.ascontiguousarray(array, dtype=_WIRE_NUMPY[name])
    raw = RawBatch(data=wire.tobytes(), dtype=name, layout=resolved, shape=tuple(int(d) for d in array.shape))
    return raw, BatchSpec(kind=kind, dtype=name, layout=resolved, device=device)


def decode(raw: RawBatch, spec: BatchSpec) -> Images:
    """The images of an answer, as `spec` says: same kind, dtype, layout and device."""
    if raw.dtype != spec.dtype or raw.layout != spec.layout:
        raise invalid_input(
            "response", f"the server answered {raw.dtype}/{raw.layout} for a {spec.dtype}/{spec.layout} request"
        )
    array = raw.to_numpy()
    if spec.kind == "torch":
        torch = _torch_module()
        return torch.from_numpy(array).to(spec.device)
    return array


def repeat_rows(values: Any, copies: int) -> Any:
    """Each row of an array or tensor repeated `copies` times, image-major (the order of
    augmented copies): [a, b] -> [a, a, b, b] for copies=2."""
    if copies == 1:
        return values
    if is_torch_tensor(values):
        return values.repeat_interleave(copies, dim=0)
    if isinstance(values, np.ndarray):
        return np.repeat(values, copies, axis=0)
    if isinstance(values, (list, tuple)):
        return type(values)(item for item in values for _ in range(copies))
    raise invalid_input("batch", f"cannot repeat {type(values).__name__} rows for copies={copies}")


def as_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """A shape as a tuple of ints (refusing non-integers, naming the field)."""
    try:
        return tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise invalid_input("shape", f"{shape!r}: expected a sequence of integers") from None
