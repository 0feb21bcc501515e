"""Image-classification data from wherever the user holds it, with one seeded split.

    from recipes import data
    splits = data.load_images(dataset="fashion_mnist")          # any TFDS name
    splits = data.load_images(images="photos/")                 # one subfolder per class
    splits = data.load_images(x=x, y=y, class_names=names)      # numpy arrays
    splits = data.load_images(dataset=tf_dataset)               # (image, label) pairs

Every source gives a `Splits` with the same fields: `input_shape` (height, width,
channels), `dtype` (the pixels' own dtype: uint8 for image files and TFDS, the array's
for arrays), `pixel_max` (255, or 1 for floats already in [0, 1]: the model rescales by
it, so exports take raw pixels), `num_classes`, `class_names` and `augment` (the preset
the kind of images calls for, see `recipes.data.augment_for`). A source without its own test split
gets a seeded one: `round(test_split * n)` examples chosen by a permutation from
`numpy.random.default_rng(seed)`, then the validation split from the rest the same way
(`seed + 1`), so the same seed gives the same three splits from every source that holds
the same examples in the same order.

Folders are read by `keras.utils.image_dataset_from_directory` (class names from the
subfolder names, in sorted order). Before it reads a pixel, every file is checked here:
a folder with fewer than two classes, an empty class folder and a file that is not an
image are one-line errors naming the place and the fix. Images of mixed sizes, without
`image_size`, are resized to their median height and width (`common_size`, the longer
side at most `MAX_SIDE`), which the splits' notes say. Written by hand because Keras skips such files silently or fails mid-epoch.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from recipes.data.augment import augment_for
from recipes.data.checks import check_positive_int
from recipes.data.sources import load
from recipes.data.splits import Splits, cut_arrays, seeded_split, split_arrays, split_mask

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Images of mixed sizes are resized to their median size, the longer side at most this.
MAX_SIDE = 128
def load_images(
    *,
    dataset=None,
    images=None,
    test_images=None,
    image_size=None,
    x=None,
    y=None,
    class_names=None,
    data_dir=None,
    limit=None,
    validation_split=0.1,
    test_split=0.1,
    seed=42,
):
    """Loads image-classification data from exactly one source, split three ways.

    Args:
        dataset: a TFDS name (`"fashion_mnist"`; with `data_dir` as in `load`) or a
            `tf.data.Dataset` of unbatched `(image, label)` pairs. Defaults to `None`.
        images: a folder with one subfolder of images per class. Defaults to `None`.
        test_images: a folder like `images` holding the test split; without it a
            seeded test split is carved out of `images`. Defaults to `None`.
        image_size: `(height, width)` to resize folder images to. Defaults to
            `None`: the images' own size, or their median size where it differs
            (`common_size`).
        x: an array of images `(n, height, width)` or `(n, height, width, channels)`,
            with `y` its integer labels `(n,)`. Defaults to `None`.
        y: the labels of `x`. Defaults to `None`.
        class_names: names of the classes of `x` or `dataset` (a tf.data.Dataset).
            Defaults to `None` (`"0"`, `"1"`, ...).
        data_dir: where a TFDS dataset's original files are (see `load`).
            Defaults to `None`.
        limit: keep only the first `limit` examples (before splitting).
            Defaults to `None` (all).
        validation_split: fraction held out for validation. Defaults to `0.1`.
        test_split: fraction held out for the test, where the source has no test
            split of its own. Defaults to `0.1`.
        seed: seed of the splits. Defaults to `42`.

    Returns:
        A `Splits`.

    Example:

    >>> splits = recipes.data.load_images(x=np.zeros((50, 8, 8), "uint8"), y=np.arange(50) % 2)
    >>> splits.input_shape, splits.num_classes, splits.test_size
    ((8, 8, 1), 2, 5)
    """
    given = {"dataset": dataset, "images": images, "x": x}
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise ValueError(
            "Give exactly one image source: dataset= (a TFDS name or a tf.data.Dataset), "
            "images= (a folder of class subfolders) or x= and y= (arrays). "
            f"Received: {', '.join(chosen) or 'none'}"
        )
    for name, fraction in (("validation_split", validation_split), ("test_split", test_split)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be in [0, 1). Received: {name}={fraction}")
    if limit is not None:
        check_positive_int("limit", limit)
    if image_size is not None:
        image_size = tuple(image_size)
        if len(image_size) != 2:
            raise ValueError(
                f"image_size must be (height, width). Received: image_size={image_size}"
            )
        for side in image_size:
            check_positive_int("image_size", side)
    if test_images is not None and images is None:
        raise ValueError("test_images= goes with images= (the training folder).")
    if (x is None) != (y is None):
        raise ValueError("x= and y= go together: the images and their integer labels.")
    split = dict(validation_split=validation_split, test_split=test_split, seed=seed)
    if isinstance(dataset, str):
        return load(dataset, data_dir=data_dir, validation_split=validation_split,
                    seed=seed, limit=limit)
    if images is not None:
        return from_directory(images, test_images, image_size, limit=limit, **split)
    if x is not None:
        return from_arrays(x, y, class_names, limit=limit, **split)
    return from_dataset(dataset, class_names, limit=limit, **split)


def _three_way(name, ds, size, test, validation_split, test_split, seed, **fields):
    """Splits `ds` (`size` examples) into train/validation/test unless `test` is given
    (a `(dataset, size)` pair). `ds` is a dataset, split by `seeded_split`'s filter, or a
    pair of arrays already in memory, cut by `split_arrays` with the same masks: the same
    splits either way, without the arrays' filter passing over every example each epoch."""
    if test is None:
        if isinstance(ds, tuple):
            ds, held, test_size = cut_arrays(*ds, test_split, seed)
            test_ds = tf.data.Dataset.from_tensor_slices(held) if test_size else None
        else:
            ds, test_ds, test_size = seeded_split(ds, size, test_split, seed)
        size -= test_size
        if test_ds is None:
            raise ValueError(f"{name}: test_split=0 needs a test set of its own.")
    else:
        test_ds, test_size = test
    if isinstance(ds, tuple):
        train, validation, val_size = split_arrays(*ds, validation_split, seed + 1)
    else:
        train, validation, val_size = seeded_split(ds, size, validation_split, seed + 1)
    return Splits(
        name=name,
        train=train,
        validation=validation,
        test=test_ds,
        train_size=size - val_size,
        validation_size=val_size,
        test_size=test_size,
        **fields,
    )


def from_arrays(x, y, class_names=None, *, limit=None, validation_split=0.1,
                test_split=0.1, seed=42):
    """Image arrays and integer labels as `Splits` (see `load_images`)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(
            "x must hold images of shape (n, height, width) or (n, height, width, "
            f"channels) with 1, 3 or 4 channels. Received: x.shape={x.shape}"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"y must hold one label per image: shape ({len(x)},). Received: y.shape={y.shape}"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"x must hold numbers. Received: x.dtype={x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x))[0][0])
        raise ValueError(f"x[{bad}] holds NaN or infinite pixels: fix or drop it.")
    labels = _integer_labels(y, "y")
    num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"Label y[{i}] = {labels[i]} is out of range: labels must be in "
            f"[0, {num_classes}) for {num_classes} classes"
            + (" (class_names)." if class_names is not None else ".")
        )
    if num_classes < 2:
        raise ValueError(f"y holds one class only ({labels[0]}): a classifier needs two or more.")
    if limit is not None:
        x, labels = x[:limit], labels[:limit]
    pixel_max = 255.0 if np.issubdtype(x.dtype, np.integer) or x.max() > 1.0 else 1.0
    names = tuple(class_names) if class_names is not None else tuple(map(str, range(num_classes)))
    return _three_way(
        "arrays", (x, labels), len(x), None, validation_split, test_split, seed,
        input_shape=tuple(x.shape[1:]), num_classes=num_classes, class_names=names,
        dtype=x.dtype.name, pixel_max=pixel_max, augment=augment_for("arrays", x.shape[-1]),
    )


def _integer_labels(y, name):
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            i = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
            raise ValueError(
                f"Labels must be integer class ids: {name}[{i}] = {y[i]}. Received: "
                f"{name}.dtype={y.dtype}"
            )
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"Labels must be integer class ids (0, 1, ...). Received: {name}.dtype={y.dtype}"
        )
    return y.astype("int64")


def from_dataset(ds, class_names=None, *, limit=None, validation_split=0.1,
                 test_split=0.1, seed=42):
    """A `tf.data.Dataset` of unbatched `(image, label)` pairs as `Splits`.

    The dataset is read once to count it, find its classes and its pixel range.
    """
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            f"Expected a dataset of (image, label) pairs. Received: element_spec={spec}"
        )
    image, label = spec
    if label.shape.rank != 0 or not label.dtype.is_integer:
        raise ValueError(
            "Expected unbatched (image, label) pairs with integer labels (call "
            f".unbatch() on a batched dataset). Received: label spec {label}"
        )
    if image.shape.rank == 2:
        ds = ds.map(lambda a, b: (a[..., None], b))
        image = ds.element_spec[0]
    if image.shape.rank != 3 or not image.shape.is_fully_defined():
        raise ValueError(
            "Images must all have one known shape (height, width, channels); resize "
            f"them in the dataset first. Received: image spec {image}"
        )
    if limit is not None:
        ds = ds.take(limit)
    stats = ds.reduce(
        (tf.constant(0, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64),
         tf.constant(-np.inf, tf.float64)),
        lambda s, e: (s[0] + 1, tf.maximum(s[1], tf.cast(e[1], tf.int64)),
                      tf.minimum(s[2], tf.cast(e[1], tf.int64)),
                      tf.maximum(s[3], tf.reduce_max(tf.cast(e[0], tf.float64)))),
    )
    size, top, low, brightest = (v.numpy() for v in stats)
    if size == 0:
        raise ValueError("The dataset is empty: expected (image, label) pairs, got none.")
    num_classes = len(class_names) if class_names is not None else int(top) + 1
    if low < 0 or top >= num_classes:
        raise ValueError(
            f"Labels must be in [0, {num_classes}); the dataset holds labels from {low} "
            f"to {top}."
        )
    if num_classes < 2:
        raise ValueError("The dataset holds one class only: a classifier needs two or more.")
    pixel_max = 255.0 if image.dtype.is_integer or brightest > 1.0 else 1.0
    names = tuple(class_names) if class_names is not None else tuple(map(str, range(num_classes)))
    return _three_way(
        "dataset", ds, int(size), None, validation_split, test_split, seed,
        input_shape=tuple(image.shape), num_classes=num_classes, class_names=names,
        dtype=image.dtype.name, pixel_max=pixel_max,
        augment=augment_for("dataset", image.shape[-1]),
    )


def scan_directory(path):
    """Checks a folder of class subfolders without decoding an image.

    Returns:
        `(class_names, sizes, channels)`: the sorted class folder names, the files of
        each `(height, width)` size found (`{size: [paths]}`) and the set of channel
        counts.

    Raises:
        ValueError: the folder is missing, has fewer than two class folders, an empty
            class folder, or a file that is not an image.
    """
    from PIL import Image  # Pillow comes with matplotlib; reads sizes from headers.

    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder. Received: images={str(path)!r}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        found = f"one class folder ({classes[0]!r})" if classes else "no class folders"
        raise ValueError(
            f"{root} has {found}: put the images of each class in a subfolder of "
            f"its own (e.g. {root}/cats/, {root}/dogs/), two classes or more."
        )
    sizes, channels = {}, set()
    modes = {"1": 1, "L": 1, "I": 1, "F": 1, "I;16": 1, "LA": 1, "RGBA": 4}
    for name in classes:
        files = sorted(p for p in (root / name).rglob("*") if p.is_file()
                       and not p.name.startswith("."))
        if not files:
            raise ValueError(
                f"The class folder {root / name} is empty: add its images or remove it."
            )
        for file in files:
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                raise ValueError(
                    f"{file} is not an image (expected {', '.join(IMAGE_EXTENSIONS)}): "
                    "move it out of the class folders."
                )
            try:
                with Image.open(file) as im:
                    width, height = im.size
                    channels.add(modes.get(im.mode, 3))
            except Exception as e:
                raise ValueError(
                    f"{file} cannot be read as an image ({type(e).__name__}): fix or "
                    "remove it."
                ) from None
            sizes.setdefault((height, width), []).append(file)
    return classes, sizes, channels


def common_size(sizes, longest=MAX_SIDE):
    """The size images of mixed sizes are resized to: the median height and width over
    the files (`sizes` as `scan_directory` returns them), scaled down to keep the aspect
    ratio where the longer side exceeds `longest`, so that an epoch stays affordable on a
    CPU."""
    heights = np.concatenate([[h] * len(files) for (h, _), files in sizes.items()])
    widths = np.concatenate([[w] * len(files) for (_, w), files in sizes.items()])
    height, width = float(np.median(heights)), float(np.median(widths))
    scale = min(1.0, longest / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _folder(path, image_size, class_names=None):
    """One folder, listed by `image_dataset_from_directory` after `scan_directory`:
    `(file paths, labels, class names, image shape, whether to resize, notes)`."""
    import keras

    classes, sizes, channels = scan_directory(path)
    if class_names is not None and classes != list(class_names):
        raise ValueError(
            f"The test folder {path} has classes {classes}, but the training folder has "
            f"{list(class_names)}: both need the same class subfolders."
        )
    notes = []
    if image_size is None:
        image_size = next(iter(sizes))
        if len(sizes) > 1:
            image_size = common_size(sizes)
            smallest, largest = min(sizes, key=lambda s: s[0] * s[1]), max(sizes, key=lambda s: s[0] * s[1])
            notes.append(
                f"images in {path} have {len(sizes)} sizes ({smallest[0]}x{smallest[1]} to "
                f"{largest[0]}x{largest[1]}): resized to {image_size[0]}x{image_size[1]}, the "
                f"median height and width (the longer side at most {MAX_SIDE}); "
                "--image-size H W (image_size=) chooses another"
            )
    color = "grayscale" if channels == {1} else "rgb"
    listed = keras.utils.image_dataset_from_directory(
        str(path), labels="inferred", label_mode="int", class_names=classes,
        color_mode=color, batch_size=None, image_size=tuple(image_size), shuffle=False,
        verbose=False,
    )
    paths = list(listed.file_paths)
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[Path(p).parent.name] for p in paths], "int64")
    shape = (*image_size, 1 if color == "grayscale" else 3)
    return paths, labels, tuple(classes), shape, set(sizes) != {tuple(image_size)}, notes


def decode_files(paths, labels, shape, resize):
    """`(uint8 image, int64 label)` pairs of image files, decoded a batch of files per
    call (3.5x Keras's own one-file float32 decoding on 2 cores), resized (bilinear, then
    rounded back to uint8, the files' own type) when `resize`."""

    def one(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=shape[-1],
                                   expand_animations=False)
        if resize:
            image = tf.cast(tf.round(tf.image.resize(image, shape[:2])), tf.uint8)
        return tf.ensure_shape(image, shape)

    def read(batch):
        return tf.map_fn(one, batch, fn_output_signature=tf.TensorSpec(shape, tf.uint8))

    return (
        tf.data.Dataset.from_tensor_slices((list(paths), labels))
        .batch(256)
        .map(lambda p, y: (read(p), y), num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .apply(tf.data.experimental.assert_cardinality(len(labels)))
    )


def from_directory(path, test_path=None, image_size=None, *, limit=None,
                   validation_split=0.1, test_split=0.1, seed=42):
    """A folder of class subfolders as `Splits` (see `load_images`).

    The seeded splits are drawn on the list of files (`split_mask`, as `seeded_split`
    draws them on a dataset), so each split decodes only its own files.
    """
    paths, labels, classes, shape, resize, notes = _folder(path, image_size)
    if limit is not None:
        paths, labels = paths[:limit], labels[:limit]
    paths = np.array(paths, dtype=object)
    if test_path is None:
        test = split_mask(len(paths), test_split, seed)
        if not test.any():
            raise ValueError(f"{path}: test_split=0 needs a test folder of its own.")
        test_files = (paths[test], labels[test])
        paths, labels = paths[~test], labels[~test]
    else:
        t_paths, t_labels, _, t_shape, t_resize, t_notes = _folder(
            test_path, image_size or shape[:2], class_names=classes
        )
        if t_shape != shape:
            raise ValueError(
                f"The test images in {test_path} have shape {t_shape}, the training "
                f"images {shape}: pass image_size=(height, width) to resize both."
            )
        test_files = (np.array(t_paths, dtype=object), t_labels)
        resize, notes = resize or t_resize, notes + t_notes
    held = split_mask(len(paths), validation_split, seed + 1)

    def part(files, files_labels):
        if not len(files):
            return None
        return decode_files([str(f) for f in files], files_labels, shape, resize)

    return Splits(
        name=Path(path).name,
        train=part(paths[~held], labels[~held]),
        validation=part(paths[held], labels[held]),
        test=part(*test_files),
        input_shape=shape,
        num_classes=len(classes),
        class_names=classes,
        train_size=int((~held).sum()),
        validation_size=int(held.sum()),
        test_size=len(test_files[1]),
        dtype="uint8",
        pixel_max=255.0,
        augment=augment_for(Path(path).name, shape[-1]),
        notes=tuple(notes),
    )
