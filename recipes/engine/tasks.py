"""Task bases: recipes that take the user's own data and serve raw inputs.

`ImageTask` is image classification on any source `recipes.data.load_images` reads: a
TFDS name, a folder of class subfolders, numpy arrays or a `tf.data.Dataset`. Input
shape, channels, classes and pixel range come from the data; the augmentation preset
from the kind of images (`recipes.data.augment_for`, overridable with `augment=`).
A preset (`cnn_mnist`) is a task whose `dataset` is set and whose defaults are measured.

`TableTask` is classification or regression on a table as it comes
(`recipes.data.load_table`): the columns are encoded inside the model (missing numbers
filled and flagged, numbers piecewise-linear encoded, text one-hot over its training
vocabulary), so the model takes raw columns, gaps included.

Exports (`Result.export`) serve raw inputs and name their outputs: an image model takes
pixels of the data's shape in the data's own dtype (uint8 for image files and TFDS) and
returns `probabilities`, `class_id` and `class_name`; a table model takes one named
input per raw column (float32 for numbers, NaN where missing; string for text, `""`
where missing), named by `recipes.data.input_names`, and returns `prediction` for
regression, the same three outputs for classification. Each export holds `recipes.json`
(`recipes.engine.export.write_about`): its inputs against the table's columns, its
outputs and class names.
"""

import dataclasses
import weakref

import keras
import numpy as np
import tensorflow as tf

import layers
from recipes import data as recipe_data
from recipes.engine.export import ABOUT, export_classifier, export_regressor, write_about  # noqa: F401
from recipes.engine.losses import smoothed_crossentropy
from recipes.engine.recipe import DataOption, Recipe


class ImageTask(Recipe):
    """Image classification on the user's data; subclasses write `build_model`.

    Without data, `build_model()` builds for `input_shape`, `num_classes` and
    `pixel_max` (28x28 grayscale, 10 classes, 0-255), the defaults of a digits preset.
    """

    dataset = None  # a preset sets a TFDS name
    # Keep the latest epoch whose validation loss is within 5% of the best: the loss is
    # a proxy for the accuracy, which can still rise while the loss turns up (measured
    # per epoch on MNIST subsets and distorted digits: benchmarks/restore.py, figures in
    # benchmarks/README.md).
    restore_tolerance = 0.05
    input_shape = (28, 28, 1)
    num_classes = 10
    pixel_max = 255.0
    # The default of the tunable `label_smoothing` (see `get_loss`).
    label_smoothing = 0.0
    data_options = {
        "dataset": DataOption("a tensorflow-datasets name, e.g. fashion_mnist", metavar="NAME"),
        "images": DataOption("a folder with one subfolder of images per class", metavar="DIR"),
        "test_images": DataOption("a folder like --images holding the test split", metavar="DIR"),
        "image_size": DataOption(
            "resize folder images to H W (default: their size, or the median of mixed sizes)",
            type=int, nargs=2, metavar=("H", "W"),
        ),
        "augment": DataOption(
            "augmentation preset: digits (no flips), photos (left-right flips) or none; "
            "default: by the kind of images",
            choices=("digits", "photos", "none"),
        ),
        "x": DataOption("images as a numpy array", cli=False),
        "y": DataOption("integer labels of x", cli=False),
        "class_names": DataOption("names of the classes of x or of a tf.data.Dataset", cli=False),
    }

    def load_data(self, data_dir=None, limit=None, seed=42, *, dataset=None, images=None,
                  test_images=None, image_size=None, augment=None, x=None, y=None,
                  class_names=None):
        """Train, validation and test `Splits` from the one source given, else the
        recipe's own `dataset` (see `recipes.data.load_images`)."""
        if augment is not None and augment not in ("digits", "photos", "none"):
            raise ValueError(
                "augment must be 'digits', 'photos' or 'none'. "
                f"Received: augment={augment!r}"
            )
        if dataset is None and images is None and x is None:
            dataset = self.dataset
        if dataset is None and images is None and x is None:
            raise ValueError(
                f"Recipe {self.name!r} trains on your data: pass dataset= (a TFDS name "
                "or a tf.data.Dataset), images= (a folder of class subfolders) or x= and "
                "y= (arrays); on the CLI --dataset NAME or --images DIR."
            )
        splits = recipe_data.load_images(
            dataset=dataset, images=images, test_images=test_images,
            image_size=image_size, x=x, y=y, class_names=class_names, data_dir=data_dir,
            limit=limit, validation_split=self.defaults["validation_split"], seed=seed,
        )
        if augment is not None:
            splits = dataclasses.replace(splits, augment=augment)
        return splits

    def augmentation(self, data=None, scale=1.0):
        """The data's preset (`Splits.augment`, else the recipe's `augment`) with this
        recipe's options for it (`augment_options[name]`), each strength times `scale`
        up to its natural limit (see `Recipe.preset`); `None` for `"none"`."""
        name = (data.augment if data is not None else None) or self.augment
        return self.preset(name, scale)

    def get_loss(self, hp, model=None):
        """Cross-entropy, its labels smoothed by the tunable `label_smoothing`
        (`SmoothedSparseCrossentropy`; 0: Keras's sparse cross-entropy), which defaults
        to the recipe's `label_smoothing`."""
        return smoothed_crossentropy(hp, self.loss, self.label_smoothing)

    def image_inputs(self, data):
        """`(keras.Input, rescaled tensor)` for the data's images (or the defaults)."""
        shape = tuple(data.input_shape) if data is not None else self.input_shape
        pixel_max = (data.pixel_max if data is not None else None) or self.pixel_max
        inputs = keras.Input(shape, name="image")
        return inputs, keras.layers.Rescaling(1.0 / pixel_max)(inputs)

    def classes(self, data):
        return data.num_classes if data is not None else self.num_classes

    def exporter(self, model, data):
        shape = tuple(data.input_shape)
        spec = tf.TensorSpec((None, *shape), tf.as_dtype(data.dtype or "float32"), "image")
        names = data.class_names or tuple(map(str, range(data.num_classes)))

        about = dict(kind="images", shape=list(shape), dtype=spec.dtype.name,
                     pixel_max=data.pixel_max or self.pixel_max)

        def export(path):
            export_classifier(model, path, spec, names, about=about)

        return export


class TableTask(Recipe):
    """Classification or regression on a table; subclasses write `build_model` over
    `encoded_inputs(data)`.

    Without data, the recipe's demo table is used (`load_data()`).
    """

    data_options = {
        "csv": DataOption(
            "a table file with a header row: .csv (any common encoding and separator), "
            ".tsv, .xlsx or .parquet", metavar="FILE"),
        "target": DataOption("the column to predict", metavar="COLUMN"),
        "task": DataOption(
            "classification or regression (default: chosen from the target column)",
            choices=("classification", "regression"),
        ),
        "keep": DataOption(
            "columns to use even if they look like row ids, constant or nearly empty",
            nargs="+", metavar="COLUMN",
        ),
        "text": DataOption(
            "columns to read as text whatever they hold: codes such as 136A or a ZIP code",
            nargs="+", metavar="COLUMN",
        ),
        "encoding": DataOption(
            "the text encoding of --csv, e.g. utf-8 or cp1252 (default: detected)",
            metavar="NAME"),
        "sep": DataOption(
            "the field separator of --csv, one character or tab (default: sniffed)",
            metavar="CHAR"),
        "frame": DataOption("a pandas DataFrame instead of csv", cli=False),
    }

    # How the batch and the epochs follow the rows (see `data_settings`).
    rows_per_step = 100
    max_batch_size = 512
    max_steps = 40_000
    min_epochs = 10

    def demo(self):
        """`(frame, target)` of the table used when no table is given."""
        raise NotImplementedError(f"{type(self).__name__} has no demo table.")

    def load_data(self, data_dir=None, limit=None, seed=42, *, csv=None, frame=None,
                  target=None, task=None, keep=(), text=(), encoding=None, sep=None):
        """Seeded, shuffled `TableSplits` of the table given (see
        `recipes.data.load_table`), or of the demo table."""
        if csv is None and frame is None:
            frame, demo_target = self.demo()
            target = target or demo_target
        if target is None:
            raise ValueError(
                f"Recipe {self.name!r} needs the column to predict: target=COLUMN "
                "(CLI: --target COLUMN)."
            )
        return recipe_data.load_table(
            csv=csv, frame=frame, target=target, task=task, keep=keep or (), text=text or (),
            limit=limit,
            seed=seed, encoding=encoding, sep=sep,
            validation_split=self.defaults["validation_split"],
        )

    def data_settings(self, settings, data, given, hp=None):
        """The batch size grows with the training rows (a power of two near
        rows / `rows_per_step`, between the recipe's `batch_size` and `max_batch_size`),
        and the epochs shrink so that a run takes at most `max_steps` steps (at least
        `min_epochs`), unless given: a large table then trains in minutes, a small one as
        before."""
        settings = dict(settings)
        if "batch_size" not in given:
            wanted = 2 ** round(np.log2(max(data.train_size / self.rows_per_step, 1)))
            settings["batch_size"] = int(np.clip(wanted, settings["batch_size"], self.max_batch_size))
        if "epochs" not in given:
            steps = -(-data.train_size // settings["batch_size"])
            settings["epochs"] = int(min(settings["epochs"],
                                         max(self.min_epochs, self.max_steps // steps)))
        return settings

    def pipelines(self, data, global_batch, seed=42, augment_scale=1.0, cache=False):
        """Batched, prefetched train (shuffled), validation and test sets, never cached
        (whatever `cache` says): a table's rows are in memory already (the tensors
        `load_table` made), and a cache would hold a second copy of every row."""
        make = recipe_data.make_pipeline
        return (
            make(data.train, global_batch, seed=seed, cache=False),
            make(data.validation, global_batch, shuffle=False, cache=False),
            make(data.test, global_batch, shuffle=False, cache=False),
        )

    def check_data(self, data):
        """Nothing left to check: `load_table` reported every bad value by row."""

    def check_model(self, model, data):
        """The model is built from the table's own columns."""

    def classifies(self, model):
        """Whether `model` is a classifier (a softmax over two or more classes)."""
        return model.output_shape[-1] > 1

    def get_loss(self, hp, model=None):
        if model is not None and not self.classifies(model):
            return "mse"
        return self.loss

    def get_metrics(self, model=None):
        if model is not None and not self.classifies(model):
            return ["mae"]
        return list(self.metrics)

    def baseline(self, data, hp):
        """For regression, the mean squared error of predicting the training mean."""
        if data.task != "regression":
            return None
        return float(train_targets(data).var())

    def encoded_inputs(self, data, bins=16, scaled=False, atoms=False):
        """`(inputs, encoded)`: a dict of `keras.Input`s, one per raw column (float32
        numbers, NaN where missing, or strings), and their encoding as one tensor.

        Numbers are filled where missing (`layers.FillMissing`, with an indicator where
        the training split had gaps) and piecewise-linear encoded over `bins` quantile
        bins (`layers.PiecewiseLinearEncoding`), with `atoms` a 0/1 flag for each value
        that holds a bin's share of the rows (`TableSplits.atoms`: a number often exactly
        0), with `scaled` also robustly scaled and smoothly clipped (`layers.RobustScale`,
        `TableSplits.robust_scale`), so that one weight reads the number's trend;
        integer categories the same way over their own values, which a dense layer then
        reads as one-hot; text one-hot over its vocabulary, with one slot for values not
        seen in training. Every statistic
        comes from the training split (`TableSplits.stats`), read once by pandas, so no
        adapt pass runs over the rows.
        """
        # The encoding stays in float32 under mixed precision: it is preprocessing.
        inputs, parts = {}, []
        for name, kind in data.columns.items():
            stats = data.stats[name]
            if kind == "text":
                x = inputs[name] = keras.Input((), dtype="string", name=name)
                ids = keras.layers.StringLookup(vocabulary=stats["vocabulary"],
                                                num_oov_indices=1)(x)
                parts.append(keras.layers.CategoryEncoding(
                    len(stats["vocabulary"]) + 1, output_mode="one_hot", dtype="float32")(ids))
                continue
            x = inputs[name] = keras.Input((), dtype="float32", name=name)
            filled = layers.FillMissing(stats["fill"], indicator=stats["missing"],
                                        dtype="float32")(x)
            if stats["missing"]:
                filled, flag = filled
                parts.append(flag)
            parts.append(layers.PiecewiseLinearEncoding(
                data.edges(name, bins), data.atoms(name, bins) if atoms else (),
                dtype="float32")(filled))
            if scaled and kind == "number":
                center, scale = data.robust_scale(name)
                parts.append(layers.RobustScale(center, scale, dtype="float32")(filled))
        encoded = keras.layers.Concatenate(dtype="float32")(parts) if len(parts) > 1 else parts[0]
        return inputs, encoded

    def exporter(self, model, data):
        specs = {
            name: tf.TensorSpec((None,), tf.string if kind == "text" else tf.float32, name)
            for name, kind in data.columns.items()
        }
        about = dict(
            kind="table", task=data.task, target=data.target,
            inputs=[dict(name=name, column=data.sources[name],
                         dtype="string" if kind == "text" else "float32")
                    for name, kind in data.columns.items()],
            left_out=data.left_out, reading=data.reading,
        )

        def export(path):
            if data.task == "classification":
                export_classifier(model, path, specs, data.class_names, dict, about)
            else:
                export_regressor(model, path, specs, dict, about)

        return export


# The training targets of each training split read so far: a run asks for them several
# times (the target's scale, its statistics, each model built), and reading them goes
# through the whole split.
_TARGETS = weakref.WeakKeyDictionary()


def train_targets(data):
    """The training split's targets as one read-only array (a table's inputs are dicts,
    which `Splits.arrays` cannot stack), read once per split."""
    targets = _TARGETS.get(data.train)
    if targets is None:
        batches = data.train.map(lambda x, y: y).batch(4096).as_numpy_iterator()
        targets = _TARGETS[data.train] = np.concatenate(list(batches))
        targets.flags.writeable = False
    return targets
