"""The MNIST loader on small IDX files written here; the network is always mocked."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

import dlbasics.mnist as mnist
from dlbasics.mnist import CHECKSUMS, FILES, default_root, load_mnist, read_idx

TRAIN_IMAGES, TRAIN_LABELS = FILES["train"]
TEST_IMAGES, TEST_LABELS = FILES["test"]


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Uncompressed IDX encoding of a uint8 array (magic from its ndim unless given)."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x00000800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sample_split(n: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, bytes, bytes]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    return images, labels, gz(idx_bytes(images)), gz(idx_bytes(labels))


def digests(**files: bytes) -> dict[str, dict[str, str]]:
    """Checksum table for the given {filename: bytes}; keys use '-' for '_'."""
    return {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
        for name, data in files.items()
    }


class FakeResponse(io.BytesIO):
    """What ``urlopen`` returns: a readable context manager with headers."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


class FakeNetwork:
    """Stands in for ``urlopen``: serves ``{url_suffix: bytes}``, records every URL."""

    def __init__(self, files: dict[str, bytes], fail_hosts: tuple[str, ...] = ()) -> None:
        self.files = files
        self.fail_hosts = fail_hosts
        self.calls: list[str] = []

    def __call__(self, request, timeout=None):
        url = request.full_url if hasattr(request, "full_url") else request
        assert timeout is not None and timeout > 0, "downloads must use a timeout"
        self.calls.append(url)
        if any(host in url for host in self.fail_hosts):
            raise URLError("mirror unreachable")
        name = url.rsplit("/", 1)[1]
        if name not in self.files:
            raise URLError(f"404 {name}")
        return FakeResponse(self.files[name])


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the loader tried to use the network")

    monkeypatch.setattr(mnist, "urlopen", refuse)


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------


def test_read_idx_round_trip_gz_and_plain(tmp_path):
    images, labels, images_gz, _ = sample_split(3)
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(images_gz)
    (tmp_path / "b-idx1-ubyte").write_bytes(idx_bytes(labels))
    got = read_idx(tmp_path / "a-idx3-ubyte.gz", 0x00000803)
    assert got.dtype == np.uint8 and got.shape == (3, 28, 28) and got.flags.writeable
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(tmp_path / "b-idx1-ubyte"), labels)


def test_read_idx_big_endian_types(tmp_path):
    values = np.array([[1, -2], [300, 70000]], dtype=">i4")
    path = tmp_path / "ints-idx2-int"
    path.write_bytes(struct.pack(">I", 0x00000C02) + struct.pack(">2I", 2, 2) + values.tobytes())
    got = read_idx(path)
    assert got.dtype == np.dtype("int32")
    np.testing.assert_array_equal(got, [[1, -2], [300, 70000]])


@pytest.mark.parametrize(
    ("data", "expected_magic", "match"),
    [
        (idx_bytes(np.zeros(4)), 0x00000803, "magic number 0x00000801; expected 0x00000803"),
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", None, "not an IDX magic number"),
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 28, 28) + bytes(100), None, "truncated"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), None, "header alone needs 16"),
        (idx_bytes(np.zeros(4)) + b"extra", None, "longer than its header says"),
        (b"\x00\x00", None, "too short"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, data, expected_magic, match):
    path = tmp_path / "bad.gz"
    path.write_bytes(gz(data))
    with pytest.raises(ValueError, match=match):
        read_idx(path, expected_magic)


def test_read_idx_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gz(idx_bytes(np.zeros((2, 28, 28))))[:-12])  # cut the gzip stream
    with pytest.raises(ValueError, match="not a readable gzip file"):
        read_idx(path)
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        read_idx(path)


# ---------------------------------------------------------------------------
# loading from the cache directory
# ---------------------------------------------------------------------------


def test_load_mnist_reads_cached_files_without_network(tmp_path, no_network):
    images, labels, images_gz, labels_gz = sample_split(7)
    (tmp_path / TEST_IMAGES).write_bytes(images_gz)
    (tmp_path / TEST_LABELS).write_bytes(labels_gz)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    for download in (False, True):  # files present and valid: the network is never needed
        X, y = load_mnist(tmp_path, split="test", download=download, checksums=table)
        assert X.dtype == np.uint8 and X.shape == (7, 28, 28)
        assert y.dtype == np.int64 and y.shape == (7,)
        np.testing.assert_array_equal(X, images)
        np.testing.assert_array_equal(y, labels)


def test_default_checksums_reject_files_that_are_not_the_official_ones(tmp_path, no_network):
    _, _, images_gz, labels_gz = sample_split()
    (tmp_path / TRAIN_IMAGES).write_bytes(images_gz)
    (tmp_path / TRAIN_LABELS).write_bytes(labels_gz)
    with pytest.raises(ValueError, match=r"not the official file: size is \d+ bytes, expected 9912422"):
        load_mnist(tmp_path, download=False)
    # only the digests the caller passes are checked instead; the defaults stay as they were
    sha_only = {TRAIN_IMAGES: {"sha256": hashlib.sha256(images_gz).hexdigest()}}
    with pytest.raises(ValueError, match=TRAIN_LABELS):
        load_mnist(tmp_path, download=False, checksums=sha_only)
    assert CHECKSUMS[TRAIN_IMAGES]["sha256"].startswith("440fcabf")
    assert CHECKSUMS[TRAIN_IMAGES]["size"] == 9_912_422


def test_wrong_sha256_with_right_size_is_rejected(tmp_path, no_network):
    _, _, images_gz, labels_gz = sample_split()
    (tmp_path / TEST_IMAGES).write_bytes(images_gz)
    (tmp_path / TEST_LABELS).write_bytes(labels_gz)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    table[TEST_LABELS]["sha256"] = "0" * 64
    table[TEST_LABELS]["size"] = len(labels_gz)
    with pytest.raises(ValueError, match=r"sha256 is [0-9a-f]{64}, expected 0{64}"):
        load_mnist(tmp_path, split="test", download=False, checksums=table)
    table[TEST_LABELS] = {"md5": "f" * 32}
    with pytest.raises(ValueError, match="md5 is"):
        load_mnist(tmp_path, split="test", download=False, checksums=table)


def test_offline_without_files_names_directory_and_files(tmp_path, no_network):
    target = tmp_path / "nothing-here"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(target, split="train", download=False)
    message = str(info.value)
    assert str(target) in message
    assert TRAIN_IMAGES in message and TRAIN_LABELS in message
    assert not target.exists()  # download=False creates nothing


def test_download_then_cache(tmp_path, monkeypatch):
    images, labels, images_gz, labels_gz = sample_split(4)
    network = FakeNetwork({TRAIN_IMAGES: images_gz, TRAIN_LABELS: labels_gz})
    monkeypatch.setattr(mnist, "urlopen", network)
    table = digests(**{TRAIN_IMAGES: images_gz, TRAIN_LABELS: labels_gz})
    root = tmp_path / "cache"
    X, y = load_mnist(root, checksums=table, progress=False)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    assert [url.rsplit("/", 1)[1] for url in network.calls] == [TRAIN_IMAGES, TRAIN_LABELS]
    assert network.calls[0].startswith(mnist.MIRRORS[0])
    assert sorted(p.name for p in root.iterdir()) == sorted([TRAIN_IMAGES, TRAIN_LABELS])
    # second call: served from the cache, the network is not touched
    X2, y2 = load_mnist(root, checksums=table, progress=False)
    assert len(network.calls) == 2
    np.testing.assert_array_equal(X2, images)
    np.testing.assert_array_equal(y2, labels)


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch):
    _, _, images_gz, labels_gz = sample_split()
    network = FakeNetwork({TEST_IMAGES: images_gz, TEST_LABELS: labels_gz}, fail_hosts=("first",))
    monkeypatch.setattr(mnist, "urlopen", network)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    mirrors = ["https://first.example/mnist/", "https://second.example/mnist"]
    load_mnist(tmp_path, split="test", checksums=table, mirrors=mirrors, progress=False)
    assert network.calls == [
        "https://first.example/mnist/" + TEST_IMAGES,
        "https://second.example/mnist/" + TEST_IMAGES,
        "https://first.example/mnist/" + TEST_LABELS,
        "https://second.example/mnist/" + TEST_LABELS,
    ]


def test_download_with_wrong_checksum_is_discarded(tmp_path, monkeypatch):
    _, _, images_gz, labels_gz = sample_split()
    tampered = gz(idx_bytes(np.ones((5, 28, 28))))
    network = FakeNetwork({TEST_IMAGES: tampered, TEST_LABELS: labels_gz})
    monkeypatch.setattr(mnist, "urlopen", network)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    with pytest.raises(FileNotFoundError, match="checksum mismatch") as info:
        load_mnist(tmp_path, split="test", checksums=table, progress=False)
    assert str(tmp_path) in str(info.value)
    assert len(network.calls) == len(mnist.MIRRORS)  # every mirror was tried
    assert list(tmp_path.iterdir()) == []  # neither the bad file nor a .part is left


def test_corrupt_cached_file_is_downloaded_again(tmp_path, monkeypatch):
    images, _, images_gz, labels_gz = sample_split()
    (tmp_path / TEST_IMAGES).write_bytes(b"garbage")
    (tmp_path / TEST_LABELS).write_bytes(labels_gz)
    network = FakeNetwork({TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    monkeypatch.setattr(mnist, "urlopen", network)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    X, _ = load_mnist(tmp_path, split="test", checksums=table, progress=False)
    np.testing.assert_array_equal(X, images)
    assert [url.rsplit("/", 1)[1] for url in network.calls] == [TEST_IMAGES]
    assert (tmp_path / TEST_IMAGES).read_bytes() == images_gz


def test_unreachable_network_gives_a_clear_error(tmp_path, monkeypatch):
    network = FakeNetwork({}, fail_hosts=("http",))
    monkeypatch.setattr(mnist, "urlopen", network)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, progress=False)
    message = str(info.value)
    assert str(tmp_path) in message and TRAIN_IMAGES in message and TRAIN_LABELS in message
    assert "mirror unreachable" in message
    assert len(network.calls) == len(mnist.MIRRORS)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(FakeResponse):
        def read(self, size=-1):
            raise TimeoutError("connection reset mid-file")

    monkeypatch.setattr(mnist, "urlopen", lambda request, timeout: Broken(b"x" * 100))
    with pytest.raises(FileNotFoundError, match="connection reset mid-file"):
        load_mnist(tmp_path, split="test", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((3, 8, 8)), np.zeros(3), r"images of shape \(8, 8\); expected \(28, 28\)"),
        (np.zeros((3, 28, 28)), np.zeros(2), "holds 3 images but .* holds 2 labels"),
        (np.zeros((2, 28, 28)), np.array([1, 12]), "label 12; MNIST labels are 0-9"),
    ],
)
def test_load_mnist_checks_contents(tmp_path, no_network, images, labels, match):
    images_gz, labels_gz = gz(idx_bytes(images)), gz(idx_bytes(labels))
    (tmp_path / TEST_IMAGES).write_bytes(images_gz)
    (tmp_path / TEST_LABELS).write_bytes(labels_gz)
    table = digests(**{TEST_IMAGES: images_gz, TEST_LABELS: labels_gz})
    with pytest.raises(ValueError, match=match):
        load_mnist(tmp_path, split="test", download=False, checksums=table)


def test_swapped_files_fail_on_the_magic_number(tmp_path, no_network):
    _, _, images_gz, labels_gz = sample_split()
    (tmp_path / TEST_IMAGES).write_bytes(labels_gz)
    (tmp_path / TEST_LABELS).write_bytes(images_gz)
    table = digests(**{TEST_IMAGES: labels_gz, TEST_LABELS: images_gz})
    with pytest.raises(ValueError, match="magic number 0x00000801; expected 0x00000803"):
        load_mnist(tmp_path, split="test", download=False, checksums=table)


def test_bad_arguments(tmp_path, no_network):
    with pytest.raises(ValueError, match="unknown split 'validation'; expected one of 'train', 'test'"):
        load_mnist(tmp_path, split="validation")
    with pytest.raises(TypeError, match="download must be True or False"):
        load_mnist(tmp_path, download="no")
    with pytest.raises(TypeError, match="mirrors must be a sequence"):
        load_mnist(tmp_path, mirrors="https://example.org/")


def test_default_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBASICS_DATA", str(tmp_path))
    assert default_root() == tmp_path / "mnist"
    monkeypatch.delenv("DLBASICS_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == Path(tmp_path / "home" / ".cache" / "dlbasics" / "mnist")
