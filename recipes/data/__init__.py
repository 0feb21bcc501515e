"""Data for the recipes: sources, splits, checks, input pipelines and augmentation presets.

    from recipes import data
    splits = data.load("mnist")                       # TFDS, found offline or downloaded
    train = data.make_pipeline(splits.train, 128, augment="digits")
    x, y, names = data.from_csv("table.csv", target="price")

Modules: `sources` (TFDS image classification), `images` (images from TFDS, folders,
arrays or a `tf.data.Dataset`), `splits` (`Splits`, seeded and
time-ordered splits), `checks` (bad data caught before training), `tables` (table files and
DataFrames for the `tabular` recipe), `reading` (how a table's columns are read: file
encodings and separators, numbers, booleans, dates, text; one set of rules for training
and serving),
`series` (the demo CO2 series, lag features), `pipeline` (`make_pipeline`), `augment`
(presets that keep data natural). TensorFlow Datasets is imported only when a TFDS
dataset is loaded.
"""

from recipes.data.augment import (
    LIMITS,
    PRESETS,
    audio,
    augment_for,
    digits,
    get_preset,
    photos,
    stronger,
)
from recipes.data.checks import check_data_dir, check_dataset, check_positive_int
from recipes.data.images import from_arrays, from_dataset, from_directory, load_images
from recipes.data.pipeline import make_pipeline
from recipes.data.series import LAGS, demo_series, lag_features
from recipes.data.sources import DataUnavailableError, load
from recipes.data.splits import Splits, seeded_split, split_mask, time_splits
from recipes.data.tables import TableSplits, from_csv, input_names, load_table, read_csv

__all__ = [
    "LAGS",
    "PRESETS",
    "DataUnavailableError",
    "Splits",
    "TableSplits",
    "audio",
    "augment_for",
    "from_arrays",
    "from_dataset",
    "from_directory",
    "load_images",
    "check_data_dir",
    "check_dataset",
    "check_positive_int",
    "demo_series",
    "digits",
    "from_csv",
    "get_preset",
    "stronger",
    "LIMITS",
    "lag_features",
    "load",
    "input_names",
    "load_table",
    "read_csv",
    "make_pipeline",
    "photos",
    "seeded_split",
    "split_mask",
    "time_splits",
]
