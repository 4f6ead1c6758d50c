"""Write a tiny ONNX model by hand (protobuf wire format), so tests need neither weights nor `onnx`.

The model reads a (1, 3, H, W) image scaled to 0..1 and answers one detection in the layout
``streams.detect.objects`` calls "boxes": shape (1, 1, 4 + 2) = [x1, y1, x2, y2, dark, bright],
with a fixed box and class scores that follow the picture's mean brightness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FLOAT, INT64 = 1, 7  # TensorProto.DataType
ATTR_INT = 2  # AttributeProto.AttributeType


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    dtype = INT64 if array.dtype == np.int64 else FLOAT
    raw = array.astype("<i8" if dtype == INT64 else "<f4").tobytes()
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, dtype) + _bytes(8, name) + _bytes(9, raw)


def _value_info(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)
    tensor_type = _int(1, FLOAT) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(op: str, inputs: list[str], outputs: list[str], **ints: int) -> bytes:
    body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    body += _bytes(3, f"{op}_{outputs[0]}") + _bytes(4, op)
    for key, value in ints.items():
        body += _bytes(5, _bytes(1, key) + _int(3, value) + _int(20, ATTR_INT))
    return body


def brightness_detector(path: Path, size: int = 32) -> Path:
    """Write the model to ``path`` and return it."""
    weights = np.zeros((3, 6), np.float32)
    weights[:, 4] = -1 / 3  # "dark": 1 - mean
    weights[:, 5] = 1 / 3  # "bright": mean
    bias = np.array([0.25, 0.25, 0.75, 0.75, 1.0, 0.0], np.float32)
    return _linear_model(path, weights, bias, (1, 1, 6), size)


def fixed_output_model(path: Path, output: np.ndarray, size: int = 32) -> Path:
    """A model that answers ``output`` (any shape, e.g. a YOLO or SSD head's) whatever the
    picture: the layouts' parsing, decoding and NMS can then be checked against known values."""
    values = output.astype(np.float32).reshape(-1)
    return _linear_model(path, np.zeros((3, values.size), np.float32), values, tuple(output.shape), size)


def _linear_model(path: Path, weights: np.ndarray, bias: np.ndarray, shape: tuple[int, ...], size: int) -> Path:
    """image -> mean per channel -> @ weights + bias -> reshaped to ``shape``."""
    nodes = [
        _node("GlobalAveragePool", ["image"], ["pooled"]),
        _node("Flatten", ["pooled"], ["flat"], axis=1),
        _node("MatMul", ["flat", "weights"], ["scores"]),
        _node("Add", ["scores", "bias"], ["biased"]),
        _node("Reshape", ["biased", "shape"], ["detections"]),
    ]
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "tiny")
    graph += _bytes(5, _tensor("weights", weights)) + _bytes(5, _tensor("bias", bias))
    graph += _bytes(5, _tensor("shape", np.array(shape, np.int64)))
    graph += _bytes(11, _value_info("image", (1, 3, size, size)))
    graph += _bytes(12, _value_info("detections", shape))
    model = _int(1, 7) + _bytes(2, "vms-tests") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, 13))
    path.write_bytes(model)
    return path


__all__ = ["brightness_detector", "fixed_output_model"]
