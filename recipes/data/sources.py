"""Image-classification data through tensorflow-datasets, found offline or downloaded.

`load(name)` reads any tensorflow-datasets (TFDS) image-classification dataset
(`mnist`, `fashion_mnist`, `cifar10`, ...). The original files are looked for in order:
`data_dir`, then `$RECIPES_DATA_DIR`; a folder `<dir>/<name>/` holding them (e.g.
`<dir>/mnist/train-images-idx3-ubyte.gz`) is handed to TFDS as its manual-download
directory, so TFDS checks their checksums and parses them with its own code. Without
such a folder, TFDS downloads as usual. TFDS writes the prepared dataset to `cache_dir`,
`$RECIPES_CACHE_DIR` or its own data directory (`$TFDS_DATA_DIR`, else
`~/tensorflow_datasets`); later calls read it from there and touch nothing else. A
preparation from a data directory prints one line, `data: preparing NAME from DIR into
CACHE`, in place of TFDS's download messages (nothing is downloaded).
"""

import contextlib
import logging
import math
import os
import socket
import sys
import tempfile
import urllib.parse
from pathlib import Path

import tensorflow as tf

from recipes.data.augment import augment_for
from recipes.data.checks import check_positive_int
from recipes.data.splits import Splits, cardinality, seeded_split, split_arrays


# The training split is read into memory at once, before the validation split, when its
# decoded images take at most this much (MNIST 47 MB, CIFAR-10 154 MB, SVHN 226 MB).
IN_MEMORY_BYTES = 256 * 2**20


class DataUnavailableError(FileNotFoundError):
    """Raised when a dataset is neither prepared, nor in a data directory, nor
    downloadable. The message names every place tried and how to fix it."""


def load(
    name,
    data_dir=None,
    validation_split=0.1,
    seed=42,
    limit=None,
    cache_dir=None,
    download=True,
):
    """Loads a TFDS image-classification dataset as train, validation and test splits.

    Images come as `uint8` of shape `input_shape` and labels as `int64`; rescaling
    belongs in the model. The validation split is a seeded random subset of the
    (limited) training split: `round(validation_split * n)` examples chosen by a
    permutation from `numpy.random.default_rng(seed)` over TFDS's fixed file order, so
    the same seed gives the same split on every machine. The test split is left whole,
    for the final evaluation only. Both splits filter one source; when its decoded
    images take at most `IN_MEMORY_BYTES` (256 MiB: MNIST, CIFAR-10, SVHN), that source
    is read into memory here, once, and split as arrays by the same mask, rather than
    parsed lazily by each split's first epoch (as larger ones are).

    Args:
        name: a TFDS name, e.g. `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        data_dir: a folder holding the original downloaded files in `<data_dir>/<name>/`.
            Defaults to `None`: `$RECIPES_DATA_DIR`, then TFDS's download.
        validation_split: fraction of the training examples held out for validation,
            in `[0, 1)`. Defaults to `0.1`.
        seed: seed of the validation split. Defaults to `42`.
        limit: keep only the first `limit` training examples (before the validation
            split), for quick runs. Defaults to `None` (all).
        cache_dir: where TFDS writes and later reads the prepared dataset. Defaults to
            `None`: `$RECIPES_CACHE_DIR`, else TFDS's own data directory.
        download: whether TFDS may download the files when no data directory has them.
            Defaults to `True`.

    Returns:
        A `Splits`.

    Raises:
        DataUnavailableError: the data is in none of the places tried.

    Example:

    >>> splits = recipes.data.load("mnist", limit=1000)
    >>> splits.input_shape, splits.num_classes, splits.train_size
    ((28, 28, 1), 10, 900)
    """
    if not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be in [0, 1). Received: validation_split={validation_split}"
        )
    if limit is not None:
        check_positive_int("limit", limit)
    import tensorflow_datasets as tfds  # Here: importing it is slow and not always needed.

    cache_dir = cache_dir or os.environ.get("RECIPES_CACHE_DIR") or None
    try:
        builder = tfds.builder(name, data_dir=cache_dir)
    except tfds.core.DatasetNotFoundError as e:
        raise ValueError(
            f"Unknown dataset: {name!r} is not a tensorflow-datasets name (see "
            f"`tfds.list_builders()`). Received: name={name!r}"
        ) from e
    image_key, label_key = _image_label_keys(builder)
    with _quiet_variant_check():  # An unprepared dataset's folder has no info file yet.
        if not builder.is_prepared():
            if not sys.stdout.isatty():  # TFDS's bars redraw with cursor codes: terminals only
                tfds.disable_progress_bar()
            _prepare(builder, data_dir, download)

    # No TFDS auto-cache: `make_pipeline` caches after `limit` and the split, and a
    # cache read only partly (by `take`) is discarded with a warning.
    read = dict(
        as_supervised=True,
        shuffle_files=False,
        read_config=tfds.ReadConfig(try_autocache=False),
    )
    train = builder.as_dataset(split="train", **read)
    size = cardinality(train)
    if limit is not None and limit < size:
        train, size = train.take(limit), limit
    image = builder.info.features[image_key]
    if _decoded_bytes(image, size) <= IN_MEMORY_BYTES:
        # Read lazily, train and validation are two filters over one source, and the
        # first epoch parses every record twice (once per split). In memory, the same
        # mask splits the arrays.
        x, y = (t.numpy() for t in train.batch(size).get_single_element())
        train, validation, val_size = split_arrays(x, y, validation_split, seed)
    else:
        train, validation, val_size = seeded_split(train, size, validation_split, seed)
    try:
        test = builder.as_dataset(split="test", **read)
    except ValueError:  # No test split (e.g. cats_vs_dogs).
        test = None
    label = builder.info.features[label_key]
    return Splits(
        name=name,
        train=train,
        validation=validation,
        test=test,
        input_shape=tuple(image.shape),
        num_classes=label.num_classes,
        class_names=tuple(label.names),
        train_size=size - val_size,
        validation_size=val_size,
        test_size=0 if test is None else cardinality(test),
        dtype=tf.as_dtype(image.np_dtype).name,
        pixel_max=255.0,
        augment=augment_for(name, image.shape[-1]),
    )


def _decoded_bytes(image, examples):
    """Memory `examples` decoded images of the TFDS `image` feature take; infinite when
    their shape is not fixed (images of varying size)."""
    if any(d is None for d in image.shape):
        return float("inf")
    return examples * math.prod(image.shape) * tf.as_dtype(image.np_dtype).size


def _image_label_keys(builder):
    """The (image, label) feature names, or a ValueError if not image classification."""
    import tensorflow_datasets as tfds

    keys = builder.info.supervised_keys
    features = builder.info.features
    if (
        not keys
        or len(keys) != 2
        or not all(isinstance(k, str) for k in keys)
        or not isinstance(features[keys[0]], tfds.features.Image)
        or not isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"{builder.name!r} is not an image-classification dataset: load() needs "
            f"(image, class label) pairs. Received: supervised_keys={keys}"
        )
    return keys


def _prepare(builder, data_dir, download):
    """Prepares `builder` from a data directory or by download; else one clear error."""
    import tensorflow_datasets as tfds

    expected = sorted(
        {info.filename for info in (builder.url_infos or {}).values() if info.filename}
    )
    tried = [f"prepared data in {builder.data_dir}: not there"]
    roots = [("data_dir", data_dir), ("RECIPES_DATA_DIR", os.environ.get("RECIPES_DATA_DIR"))]
    error = None
    for label, root in roots:
        if not root:
            tried.append(f"{label}: not set")
            continue
        manual_dir = Path(root).expanduser() / builder.name
        missing = [f for f in expected if not (manual_dir / f).is_file()]
        if not manual_dir.is_dir():
            tried.append(f"{label}: {manual_dir} does not exist")
        elif missing or not any(manual_dir.iterdir()):
            tried.append(f"{label}: {manual_dir} lacks {', '.join(missing) or 'files'}")
        else:
            config = tfds.download.DownloadConfig(
                manual_dir=str(manual_dir), try_download_gcs=False
            )
            # TFDS would print "Downloading and preparing dataset Unknown size" and
            # "downloaded": nothing is downloaded here, so one line says what happens.
            builder._log_download_bytes = builder._log_download_done = lambda: None
            print(
                f"data: preparing {builder.name} from {manual_dir} into {builder.data_dir} "
                "(once: later runs read it from there)",
                flush=True,
            )
            try:
                # TFDS extracts archives into download_dir: scratch, deleted afterwards.
                with tempfile.TemporaryDirectory() as scratch:
                    builder.download_and_prepare(download_dir=scratch, download_config=config)
                return
            except Exception as e:  # e.g. a checksum mismatch: report it with the rest.
                error = e
                tried.append(f"{label}: {manual_dir}: {type(e).__name__}: {e}")

    hosts = sorted({urllib.parse.urlparse(url).hostname for url in builder.url_infos or {}})
    unreachable = _unresolvable(hosts)
    if not download:
        tried.append("download by tensorflow-datasets: disabled (download=False)")
    elif unreachable:
        tried.append(f"download by tensorflow-datasets: cannot resolve {unreachable} (offline?)")
    else:
        try:
            builder.download_and_prepare()
            return
        except Exception as e:
            error = e
            tried.append(f"download by tensorflow-datasets: {type(e).__name__}: {e}")

    files = ", ".join(expected) if expected else "the files TFDS's instructions name"
    raise DataUnavailableError(
        f"Could not load dataset {builder.name!r}. Tried, in order:\n"
        + "".join(f"  {i}. {place}\n" for i, place in enumerate(tried, 1))
        + "To fix it, either:\n"
        f"  - put the original files ({files}) in DIR/{builder.name}/ and set "
        "RECIPES_DATA_DIR=DIR (or pass data_dir=DIR), or\n"
        f"  - allow the download (download=True) where {', '.join(hosts) or 'the host'} "
        "can be reached."
    ) from error


class _VariantCheckFilter(logging.Filter):
    """Drops TFDS's "Variant folder ... has no dataset_info.json" warnings: until a
    dataset is prepared, its folder has none."""

    def filter(self, record):
        return not str(record.msg).startswith("Variant folder %s has no ")


@contextlib.contextmanager
def _quiet_variant_check():
    """Applies `_VariantCheckFilter` to TFDS's logger (absl's) for the duration."""
    logger = logging.getLogger("absl")
    check = _VariantCheckFilter()
    logger.addFilter(check)
    try:
        yield
    finally:
        logger.removeFilter(check)


def _unresolvable(hosts):
    """The first host name that does not resolve, so offline runs fail in a second
    instead of retrying downloads for minutes. Skipped behind an HTTP(S) proxy."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")):
        return None
    for host in hosts:
        try:
            socket.getaddrinfo(host, 443)
        except OSError:
            return host
    return None


