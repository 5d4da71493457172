"""The value codec between grader and sandbox: JSON with NumPy arrays, never pickles.

Arrays travel as ``{"__ndarray__": base64 raw bytes, "dtype": ..., "shape": ...}``
with a fixed set of little-endian numeric dtypes. :func:`encode` runs in the
sandbox (and in the grader, for probe inputs); :func:`decode` treats its input
as hostile: depth, string length, array dtypes, shapes and total size are all
checked. Standard library and NumPy only: the sandbox's runner loads this file
by path, without the grader package.
"""

import base64

import numpy as _np

# Private references, taken before the learner's code can replace them.
_np_array = _np.array
_np_ndarray = _np.ndarray
_np_generic = _np.generic
_np_dtype = _np.dtype
_np_frombuffer = _np.frombuffer

ARRAY_DTYPES = (
    "|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8",
)
MAX_DEPTH = 32
MAX_STRING = 100_000




class CodecError(ValueError):
    """A value that cannot travel between grader and sandbox."""


def encode(value, path="outputs", depth=0, budget=None):
    """JSON-ready copy of ``value``; arrays become ``{"__ndarray__": ...}``.

    Accepts None, bool, int, float, str, lists/tuples, dicts with str keys,
    NumPy scalars and NumPy arrays of bool/int/uint/float dtypes. ``budget``,
    a one-item list, is the number of array bytes still allowed; arrays
    beyond it raise :class:`CodecError` before anything is copied.
    """
    if budget is None:
        budget = [1 << 62]
    if depth > MAX_DEPTH:
        raise CodecError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    t = type(value)
    if value is None or t is bool or t is int:
        return value
    if t is float:
        return value
    if t is str:
        if len(value) > MAX_STRING:
            raise CodecError(f"{path} is a string of {len(value)} characters (max {MAX_STRING})")
        return value
    if isinstance(value, _np_ndarray):
        size = int(value.size) * int(value.dtype.itemsize)
        budget[0] -= size
        if budget[0] < 0:
            raise CodecError(f"{path} ({size} bytes) makes the outputs larger than the grader "
                             "accepts")
        arr = _np_array(value, copy=True, subok=False, order="C")
        if arr.dtype.kind == "b":
            arr = arr.astype("|b1")
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        arr = arr.astype(dt, copy=False)
        if arr.dtype.str not in ARRAY_DTYPES:
            raise CodecError(
                f"{path} is an array of dtype {arr.dtype}; only bool, integer and float "
                "arrays can be returned"
            )
        return {
            "__ndarray__": base64.b64encode(arr.tobytes()).decode("ascii"),
            "dtype": arr.dtype.str,
            "shape": [int(n) for n in arr.shape],
        }
    if isinstance(value, _np_generic):
        if value.dtype.kind not in "biuf":
            raise CodecError(f"{path} is a NumPy {value.dtype} scalar")
        return encode(value.item(), path, depth + 1, budget)
    if t is list or t is tuple:
        return [encode(v, f"{path}[{i}]", depth + 1, budget) for i, v in enumerate(value)]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise CodecError(f"{path} has a key of type {type(k).__name__}; keys must be str")
            out[k] = encode(v, f"{path}[{k!r}]", depth + 1, budget)
        return out
    raise CodecError(
        f"{path} is a {t.__module__}.{t.__name__}; return numbers, strings, lists "
        "or NumPy arrays"
    )


def decode(value, max_bytes, path="outputs", depth=0, _budget=None):
    """Inverse of :func:`encode` for untrusted input; checks every array.

    ``max_bytes`` bounds the total size of the arrays. Raises
    :class:`CodecError` on anything malformed.
    """
    budget = _budget if _budget is not None else [max_bytes]
    if depth > MAX_DEPTH:
        raise CodecError(f"{path} is nested too deeply")
    t = type(value)
    if value is None or t in (bool, int, float, str):
        return value
    if t is list:
        return [decode(v, max_bytes, f"{path}[{i}]", depth + 1, budget)
                for i, v in enumerate(value)]
    if t is dict:
        if "__ndarray__" in value:
            if set(value) != {"__ndarray__", "dtype", "shape"}:
                raise CodecError(f"{path} is a malformed array")
            dtype, shape, data = value["dtype"], value["shape"], value["__ndarray__"]
            if dtype not in ARRAY_DTYPES or type(data) is not str or type(shape) is not list:
                raise CodecError(f"{path} is a malformed array")
            if len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
                raise CodecError(f"{path} has a malformed shape")
            if len(data) * 3 // 4 > budget[0] + 3:
                raise CodecError(f"{path} is larger than the grader accepts")
            raw = base64.b64decode(data.encode("ascii"), validate=True)
            budget[0] -= len(raw)
            if budget[0] < 0:
                raise CodecError("the outputs are larger than the grader accepts")
            dt = _np_dtype(dtype)
            n = 1
            for s in shape:
                n *= s
            if n * dt.itemsize != len(raw):
                raise CodecError(f"{path}: shape {shape} does not match its data")
            return _np_frombuffer(raw, dtype=dt).reshape(shape).copy()
        return {str(k): decode(v, max_bytes, f"{path}[{k!r}]", depth + 1, budget)
                for k, v in value.items()}
    raise CodecError(f"{path} has an unexpected type")
