"""Input checks shared by the package, with errors that say what was expected.

The package checks a learner's data once, where it enters: constructors,
``fit``/``forward``/``predict``, the layer forwards, the losses. A wrongly
shaped array then reads ``"x has 3 features (shape (4, 3)) but w expects 2
inputs"`` instead of a broadcasting traceback from deep inside NumPy. The maths
behind those entry points (activations, backward passes, optimizer steps) runs
unchecked.

Randomness follows one convention everywhere: an argument ``seed: int = 0``
seeds a new generator, and an argument ``rng`` accepts a
``numpy.random.Generator`` (used as it is, so successive calls continue its
stream), an int seed, or ``None``, which means seed 0 (:func:`as_generator`).
Nothing draws fresh entropy from the operating system, so every result repeats.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "as_generator",
    "check_choice",
    "check_dtype",
    "check_finite",
    "check_gradient_shape",
    "check_indices",
    "check_int",
    "check_labels",
    "check_layer_sizes",
    "check_pair",
    "check_positive",
    "check_probability",
    "check_same_dtype",
    "check_shape",
    "check_shapes",
    "format_shape",
]


def format_shape(shape: Sequence[int]) -> str:
    """Format a shape the way NumPy prints it, e.g. ``(4, 3)`` or ``(5,)``."""
    return str(tuple(int(s) for s in shape))


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Convert ``x`` to a floating-point array and check it.

    Floating dtypes are kept as they are (float32 stays float32); integer and
    boolean input becomes float64, NumPy's default.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The argument's name, used in error messages.
    ndim : int, optional
        The number of dimensions ``x`` must have.
    allow_empty : bool, default False
        Whether an array with no elements is acceptable.
    finite : bool, default True
        Whether to reject NaN and infinity.

    Returns
    -------
    numpy.ndarray
        ``x`` as a floating-point array (no copy when it already was one).

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    ValueError
        If ``x`` has the wrong number of dimensions, is empty, or is not finite.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        type_name = type(x).__module__ + "." + type(x).__qualname__
        if type_name.startswith("torch."):
            raise TypeError(
                f"{name} is a torch.Tensor; expected a NumPy array "
                f"(use {name}.detach().cpu().numpy())"
            )
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise TypeError(f"{name} could not be converted to an array of numbers: {err}") from None
    kind = arr.dtype.kind
    if kind in "biu":
        arr = arr.astype(np.float64)
    elif kind != "f":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; expected an array of real numbers "
            "(float32 or float64)"
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-dimensional, but has shape {format_shape(arr.shape)} "
            f"({arr.ndim} dimension{'s' if arr.ndim != 1 else ''})"
        )
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {format_shape(arr.shape)}); expected at least one value")
    if finite:
        check_finite(arr, name)
    return arr


def as_generator(rng: np.random.Generator | int | None, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``: ``rng`` itself, a new one seeded with an int, or seed 0 for ``None``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed or None (seed 0), "
        f"got {type(rng).__name__} {rng!r}"
    )


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN or infinity in ``arr``."""
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0])
        value = arr[first] if arr.ndim else arr
        raise ValueError(
            f"{name} contains {len(bad)} non-finite value{'s' if len(bad) != 1 else ''} "
            f"(first: {value} at index {first}); expected finite numbers"
        )


def check_gradient_shape(dout: Any, shape: Sequence[int], name: str = "dout") -> np.ndarray:
    """Check an upstream gradient: a float array of the forward output's ``shape``; return it."""
    arr = as_float_array(dout, name)
    check_shape(arr, shape, name, "the shape of the forward output")
    return arr


def check_same_dtype(**arrays: np.ndarray) -> None:
    """Raise ``TypeError`` if the arrays do not all share one dtype.

    Mixing float32 and float64 would silently upcast the result to float64.
    """
    dtypes = {name: arr.dtype for name, arr in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"dtypes differ ({listing}); cast them to one dtype so nothing is upcast")


def check_labels(y: Any, n_samples: int, num_classes: int, name: str = "y") -> np.ndarray:
    """Check integer class labels and return them as an ``int64`` array.

    Parameters
    ----------
    y : array_like, shape (n_samples,)
        Class indices in ``[0, num_classes)``.
    n_samples : int
        The number of samples the labels must match.
    num_classes : int
        The number of classes.
    name : str, default "y"
        The argument's name, used in error messages.
    """
    arr = np.asarray(y)
    if arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise TypeError(f"{name} must hold integer class labels, but has non-integer values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected integer class labels")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-dimensional (n_samples,) class labels, but has shape "
            f"{format_shape(arr.shape)}"
        )
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but there are {n_samples} samples")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} has labels in [{arr.min()}, {arr.max()}]; expected values in "
            f"[0, {num_classes - 1}] for {num_classes} classes"
        )
    return arr.astype(np.int64, copy=False)


def check_layer_sizes(layer_sizes: Sequence[int], name: str = "layer_sizes") -> list[int]:
    """Check ``[n_inputs, hidden_1, ..., n_outputs]`` (at least two positive ints); return it as a list."""
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(f"{name} must be a list of ints such as [2, 4, 1], got {layer_sizes!r}")
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"{name} needs at least an input and an output size, got {sizes!r}")
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"{name}[{i}] must be a positive int, got {s!r}")
    return [int(s) for s in sizes]


def check_pair(value: Any, name: str, what: str = "(X, y)") -> tuple[Any, Any]:
    """Return ``value`` as a tuple if it is a pair (tuple or list of two), such as ``(X, y)``."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a pair {what}, got {type(value).__name__}")
    return value[0], value[1]


def check_indices(ids: Any, size: int, name: str, hint: str = "") -> np.ndarray:
    """Integer indices into a table of ``size`` rows (token ids), any shape, as ``int64``.

    ``hint`` says where ``size`` comes from ("W has 4 rows, one per token").
    """
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected integer token ids (e.g. int64 from "
                        "Vocabulary.encode_batch)")
    if arr.ndim == 0:
        raise ValueError(f"{name} is a single number; expected an array of token ids, e.g. (N, T)")
    bad = arr[(arr < 0) | (arr >= size)]
    if bad.size:
        raise ValueError(f"{name} holds {bad.size} id(s) outside [0, {size - 1}] (first: {int(bad[0])})"
                         + (f"; {hint}" if hint else ""))
    return arr.astype(np.int64, copy=False)


def check_int(value: Any, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]`` (booleans are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a ``bool`` if it is ``True`` or ``False`` (NumPy's too); else a ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_ready(value: Any, message: str) -> Any:
    """Return ``value``; a ``RuntimeError`` saying ``message`` if it is ``None`` (a step not run yet)."""
    if value is None:
        raise RuntimeError(message)
    return value


def check_layer_input(x: Any, dtype: np.dtype, layer: str, n_features: int | None = None) -> np.ndarray:
    """``x`` as a float array for a layer object holding ``dtype`` parameters, or an error.

    With ``n_features``, ``x.shape[1]`` (features, or channels of an image batch) must equal it.
    """
    x = as_float_array(x, "x")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"x has {x.shape[1]} {'features' if x.ndim == 2 else 'channels'} (shape "
                         f"{format_shape(x.shape)}) but this {layer} was built for {n_features}")
    if x.dtype != dtype:
        raise TypeError(f"x is {x.dtype} but this {layer} holds {dtype} parameters; cast x or "
                        f"build the layer with dtype=np.{x.dtype}")
    return x


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; else a ``ValueError`` listing them.

    ``check_choice("adma", "optimizer", ("sgd", "adam"))`` raises
    ``unknown optimizer 'adma'; expected one of 'sgd', 'adam'``.
    """
    try:
        known = value in choices
    except TypeError:  # an unhashable value asked of a dict or set
        known = False
    if not known:
        listing = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}; expected one of {listing}")
    return value


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``dtype`` as a ``numpy.dtype`` if it is float32 or float64; else a ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {dt if dt is not None else repr(dtype)}")
    return dt


def check_shape(arr: np.ndarray, expected: Sequence[int], name: str, hint: str = "") -> None:
    """Raise ``ValueError`` unless ``arr`` has shape ``expected``; ``hint`` says what it should match."""
    if np.shape(arr) != tuple(expected):
        raise ValueError(
            f"{name} has shape {format_shape(np.shape(arr))}; expected {format_shape(expected)}"
            + (f", {hint}" if hint else "")
        )


def check_mask(mask: Any, shape: Sequence[int], meaning: str, hint: str = "") -> np.ndarray:
    """``mask`` as a bool array of ``shape`` with a ``True`` in every row (last axis), or an error.

    ``meaning`` says what ``True`` stands for (in the dtype error); ``hint`` what the shape is
    (in the shape error, as :func:`check_shape`).
    """
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask has dtype {mask.dtype}; expected a bool array, {meaning}")
    check_shape(mask, shape, "mask", hint)
    empty = np.argwhere(~mask.any(axis=-1))
    if empty.size:
        row = ", ".join(str(int(i)) for i in empty[0])
        raise ValueError(f"mask row {row} has no real position ({len(empty)} such row(s)); every row "
                         "needs a True entry: a softmax over zero positions is undefined")
    return mask


_DIM = re.compile(r"(\d*)([A-Za-z]\w*)?")


@functools.lru_cache(maxsize=256)
def _parse_dims(tokens: tuple[str, ...]) -> tuple[tuple[tuple[str, str | None], ...], tuple[int, ...]]:
    """Each symbol of a shape as (factor, name), and the order in which the axes bind names.

    Plain symbols bind first ("4H H" takes H from H); a layer checks the same few
    shape strings on every call, so they are parsed once.
    """
    parsed = tuple(_DIM.fullmatch(token).groups() for token in tokens)  # type: ignore[union-attr]
    order = tuple(sorted(range(len(parsed)), key=lambda i: bool(parsed[i][0])))
    return parsed, order


def check_shapes(**arrays: tuple[Any, str] | tuple[Any, str, bool]) -> list[np.ndarray]:
    """Convert arrays to floats and check them against symbolic shapes, in one call.

    Each keyword is an argument's name, its value ``(array, "N T D")`` or
    ``(array, "N T D", finite)``: one symbol per dimension, where a symbol is a
    size name (``"H"``), a multiple of one (``"4H"``, the stacked LSTM gates) or
    a literal size (``"3"``); a first symbol ``"..."`` stands for any number of
    leading axes (``"... d"``). A name is bound by the first array (in keyword
    order) that shows it, and every later use must agree, so

    ``check_shapes(x=(x, "N T D"), wh=(wh, "H H"), wx=(wx, "H D"))``

    raises ``wx has shape (4, 3); expected (H, D) = (4, 2) (D from x, H from wh)``.
    Each array goes through :func:`as_float_array` (``finite`` defaults to True,
    NaN and infinity refused), and all must share one dtype
    (:func:`check_same_dtype`).

    Returns
    -------
    list of numpy.ndarray
        The arrays, in keyword order.
    """
    sizes: dict[str, tuple[int, str]] = {}  # symbol -> (size, the array that set it)
    out: dict[str, np.ndarray] = {}
    for name, (value, dims, *finite) in arrays.items():
        tokens = tuple(dims.split())
        leading = tokens[0] == "..."  # any number of leading axes, checked by no symbol
        arr = as_float_array(value, name, ndim=None if leading else len(tokens),
                             finite=finite[0] if finite else True)
        if leading:
            if arr.ndim < len(tokens) - 1:
                raise ValueError(f"{name} has shape {format_shape(arr.shape)}; expected "
                                 f"({', '.join(tokens)}): at least {len(tokens) - 1} axis")
            tokens = tuple(str(n) for n in arr.shape[: arr.ndim - len(tokens) + 1]) + tokens[1:]
        parsed, order = _parse_dims(tokens)
        shape = arr.shape
        for i in order:
            factor, symbol = parsed[i]
            k = int(factor or 1)
            if symbol is not None and symbol not in sizes and shape[i] % k == 0:
                sizes[symbol] = (shape[i] // k, name)
        expected = [int(f or 1) * (sizes[sym][0] if sym in sizes else 1) if sym is None or sym in sizes
                    else None for f, sym in parsed]
        if tuple(expected) != shape:
            known = " = " + format_shape(expected) if None not in expected else ""
            sources = ", ".join(f"{sym} from {src}" for sym, (_, src) in sizes.items()
                                if src != name and sym in {d[1] for d in parsed})
            raise ValueError(
                f"{name} has shape {format_shape(shape)}; expected ({', '.join(tokens)}){known}"
                + (f" ({sources})" if sources else "")
            )
        out[name] = arr
    check_same_dtype(**out)
    return list(out.values())


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Check that a hyper-parameter is a positive (or non-negative) finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_probability(value: float, name: str, *, allow_one: bool = False) -> float:
    """Check that ``value`` lies in ``[0, 1)`` (a dropout rate, a momentum), or ``[0, 1]``
    with ``allow_one`` (the probability of a random change)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not (0 <= value <= 1 if allow_one else 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1{']' if allow_one else ')'}, got {value!r}")
    return float(value)
