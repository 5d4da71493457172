"""The MNIST handwritten digits, read from the official IDX files.

:func:`load_mnist` looks for the four gzipped IDX files of the original
distribution in a cache directory, checks their SHA-256 and MD5 digests, and,
when a file is missing and ``download=True``, fetches it from the first mirror
that answers. Nothing else is ever downloaded, and nothing is downloaded when
the files are already there.

The IDX format (LeCun et al.) is a big-endian header followed by raw bytes::

    magic   4 bytes   0x00 0x00 <type code> <number of dimensions>
    sizes   4 bytes per dimension, big-endian unsigned
    data    prod(sizes) items of the given type

MNIST uses type code ``0x08`` (unsigned byte): images are ``0x00000803``
(3 dimensions: n, 28, 28) and labels ``0x00000801`` (1 dimension: n).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

import numpy as np

from dlbasics.validation import check_bool, check_choice

__all__ = [
    "CHECKSUMS",
    "FILES",
    "MIRRORS",
    "default_root",
    "file_digest",
    "load_mnist",
    "read_idx",
]


#: The two files (images, labels) of each split.
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Digests of the official files (the same bytes on every mirror below). The
#: MD5s are those torchvision checks; the SHA-256s are those TensorFlow
#: Datasets and other loaders record, with the file sizes in bytes.
CHECKSUMS: dict[str, dict[str, Any]] = {
    "train-images-idx3-ubyte.gz": {
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "size": 9_912_422,
    },
    "train-labels-idx1-ubyte.gz": {
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "size": 28_881,
    },
    "t10k-images-idx3-ubyte.gz": {
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "size": 1_648_877,
    },
    "t10k-labels-idx1-ubyte.gz": {
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "size": 4_542,
    },
}

#: Mirrors tried in order: PyTorch's, TensorFlow's, then the original page
#: (which often refuses automated downloads).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IMAGE_MAGIC = 0x00000803
_LABEL_MAGIC = 0x00000801
_CHUNK = 1 << 20


def _home_relative(path: Path) -> str:
    """``path`` with the home directory written ``~``, as a learner would type it."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


def default_root() -> Path:
    """The cache directory: ``$DLBASICS_DATA/mnist``, else ``~/.cache/dlbasics/mnist``."""
    base = os.environ.get("DLBASICS_DATA")
    if base:
        return Path(base).expanduser() / "mnist"
    return Path.home() / ".cache" / "dlbasics" / "mnist"


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``"sha256"`` or ``"md5"``), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_problem(path: Path, expected: Mapping[str, Any] | None) -> str | None:
    """``None`` if ``path`` matches every digest in ``expected``, else what differs."""
    if not expected:
        return None
    size = expected.get("size")
    if size is not None and path.stat().st_size != size:
        return f"size is {path.stat().st_size} bytes, expected {size}"
    for algorithm in ("sha256", "md5"):
        want = expected.get(algorithm)
        if want is None:
            continue
        got = file_digest(path, algorithm)
        if got != want.lower():
            return f"{algorithm} is {got}, expected {want}"
    return None


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped when the name ends in ``.gz``) into an array.

    Parameters
    ----------
    path : str or path-like
        The file.
    expected_magic : int, optional
        The magic number the file must start with, e.g. ``0x00000803`` for
        MNIST images.

    Returns
    -------
    numpy.ndarray
        Shape given by the header; dtype from the type code (``uint8`` for
        MNIST), in native byte order, writable.

    Raises
    ------
    ValueError
        If the file is not valid gzip, the magic number is wrong, or the data
        are shorter or longer than the header promises.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable gzip file ({err}); delete it") from None
    if len(raw) < 4:
        raise ValueError(f"{path} is {len(raw)} bytes long, too short for an IDX header")
    (magic,) = struct.unpack(">I", raw[:4])
    zero, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path} starts with magic number 0x{magic:08x}; expected 0x{expected_magic:08x}"
        )
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path} starts with 0x{magic:08x}, which is not an IDX magic number")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path} is truncated: {len(raw)} bytes, but its header alone needs {header}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{path} is {state}: {len(raw)} bytes, but a header of shape {shape} needs {expected}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _download(
    filename: str,
    root: Path,
    mirrors: Sequence[str],
    expected: Mapping[str, Any] | None,
    timeout: float,
    progress: bool,
) -> list[str]:
    """Fetch ``filename`` into ``root`` from the first mirror that serves good bytes.

    Returns the list of failures (empty on success). The bytes go to a
    temporary ``.part`` file that is renamed only once its checksum is right,
    so an interrupted download never leaves a half file under the real name.
    """
    if not mirrors:
        return ["no mirrors given"]
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        part = None
        try:
            request = Request(url, headers={"User-Agent": "dlbasics"})
            with urlopen(request, timeout=timeout) as response:
                headers = getattr(response, "headers", None)
                total = headers.get("Content-Length") if headers is not None else None
                fd, name = tempfile.mkstemp(dir=root, prefix=filename + ".", suffix=".part")
                part = Path(name)
                with os.fdopen(fd, "wb") as out:
                    _copy(response, out, int(total) if total else None, filename, progress)
            problem = _checksum_problem(part, expected)
            if problem is not None:
                failures.append(f"{url}: checksum mismatch ({problem})")
                continue
            part.chmod(0o644)
            os.replace(part, root / filename)
            part = None
            return []
        except (URLError, OSError, HTTPException, ValueError) as err:
            failures.append(f"{url}: {err}")
        finally:
            if part is not None and part.exists():
                part.unlink()
    return failures


def _copy(source: Any, out: Any, total: int | None, label: str, progress: bool) -> None:
    from tqdm.auto import tqdm

    with tqdm(
        total=total, unit="B", unit_scale=True, desc=label, disable=not progress, leave=False
    ) as bar:
        for block in iter(lambda: source.read(_CHUNK), b""):
            out.write(block)
            bar.update(len(block))


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    download: bool = True,
    *,
    checksums: Mapping[str, Mapping[str, Any]] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST training or test set from the official IDX files.

    Parameters
    ----------
    root : str or path-like, optional
        Directory holding (or receiving) the ``.gz`` files. Defaults to
        ``$DLBASICS_DATA/mnist`` when that variable is set, otherwise
        ``~/.cache/dlbasics/mnist``.
    split : {"train", "test"}, default "train"
        ``"train"`` reads ``train-images-idx3-ubyte.gz`` and
        ``train-labels-idx1-ubyte.gz`` (60,000 digits), ``"test"`` the
        ``t10k-*`` files (10,000 digits).
    download : bool, default True
        Fetch missing files, or files whose checksum is wrong, from
        :data:`MIRRORS`. With ``False`` nothing touches the network.
    checksums : mapping, optional
        ``{filename: {"sha256": ..., "md5": ..., "size": ...}}``, any subset
        of the keys, to check instead of :data:`CHECKSUMS` (for files you made
        yourself). Files not listed are checked against :data:`CHECKSUMS`.
    mirrors : sequence of str, optional
        Base URLs to try in order, instead of :data:`MIRRORS`.
    timeout : float, default 30.0
        Seconds to wait for a mirror before trying the next one.
    progress : bool, default True
        Show a download progress bar.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
        Grey levels 0 (background) to 255 (ink).
    labels : ndarray of int64, shape (n,)
        The digit shown, 0-9.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download=False``, or every mirror failed;
        the message names the directory, the files and how to provide them.
    ValueError
        If a file is corrupt: wrong checksum (with ``download=False``), bad
        gzip data, wrong magic number, wrong image size or truncated data.
    """
    check_choice(split, "split", tuple(FILES))
    check_bool(download, "download")
    directory = Path(root).expanduser() if root is not None else default_root()
    table = dict(CHECKSUMS)
    if checksums is not None:
        table.update({name: dict(value) for name, value in checksums.items()})
    if isinstance(mirrors, str):
        raise TypeError("mirrors must be a sequence of base URLs, not a single string")
    mirror_list = tuple(MIRRORS if mirrors is None else mirrors)

    paths = []
    for filename in FILES[split]:
        path = directory / filename
        expected = table.get(filename)
        if path.is_file():
            problem = _checksum_problem(path, expected)
            if problem is None:
                paths.append(path)
                continue
            if not download:
                raise ValueError(
                    f"{path} is corrupt or not the official file: {problem}. Delete it, or call "
                    "load_mnist(download=True) to fetch it again"
                )
        elif not download:
            missing = [name for name in FILES[split] if not (directory / name).is_file()]
            source = mirror_list[0] if mirror_list else "an MNIST mirror"
            raise FileNotFoundError(
                f"MNIST {split} files not found in {_home_relative(directory)}: missing {', '.join(missing)} "
                f"(looked for {', '.join(FILES[split])}). Call load_mnist(download=True) while "
                f"online, or copy the files there from {source}"
            )
        directory.mkdir(parents=True, exist_ok=True)
        failures = _download(filename, directory, mirror_list, expected, timeout, progress)
        if failures:
            raise FileNotFoundError(
                f"could not download {filename} into {directory} (looked for "
                f"{', '.join(FILES[split])}); every mirror failed:\n  "
                + "\n  ".join(failures)
                + f"\nWhen offline, copy the official files into {directory} yourself."
            )
        paths.append(path)

    images = read_idx(paths[0], _IMAGE_MAGIC)
    labels = read_idx(paths[1], _LABEL_MAGIC)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{paths[0]} holds images of shape {images.shape[1:]}; expected (28, 28)")
    if len(images) != len(labels):
        raise ValueError(
            f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{paths[1]} holds label {labels.max()}; MNIST labels are 0-9")
    return images, labels.astype(np.int64)
