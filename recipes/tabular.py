"""tabular: classification or regression on a table, from a CSV file or a DataFrame.

    from recipes import tabular
    result = tabular.train(csv="houses.csv", target="price")      # regression
    result = tabular.train(frame=df, target="species")            # classification
    result.export("out/model")    # one named input per raw column

The task is chosen from the target column (text, booleans or integers with at most 20
distinct values: classification, with softmax + cross-entropy; other numbers:
regression, with the mean squared error, the output in the target's own units);
`task=` (CLI `--task`) overrides it. The table is taken as it comes
(`recipes.data.load_table`: gaps kept, rows without a target and row-id columns left
out, any column name); inside the model, missing numbers are filled and flagged, numbers
piecewise-linear encoded over `bins` quantile bins (the tunable; 1 is plain scaling),
small sets of integers over their own values, and text one-hot encoded (`TableTask.
encoded_inputs`). Rows are shuffled into a seeded split: 15% for the test, 15% of the
rest for validation. Without a table it trains on the Grunfeld investment data shipped
with statsmodels (220 rows, a text column `firm`), predicting `invest`.

The model: `depth` dense ReLU layers of `units` with dropout and L2 (tunables, as in
`mlp`) beside a linear path from the encoded columns, trained with early stopping on the
validation loss; the batch grows and the epochs shrink with the rows
(`TableTask.data_settings`).
"""

import keras

from recipes.engine import blocks, hyperparameters
from recipes.engine.recipe import Recipe
from recipes.engine.tasks import TableTask


class Tabular(TableTask):
    name = "tabular"
    defaults = dict(
        Recipe.defaults,
        epochs=200,
        batch_size=32,
        learning_rate=1e-3,
        warmup_epochs=1,
        patience=20,
        validation_split=0.15,
    )

    def demo(self):
        from statsmodels.datasets import grunfeld  # here: statsmodels is slow to import

        return grunfeld.load_pandas().data, "invest"

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        data = data if data is not None else self.load_data()
        # Piecewise-linear bins per number (Gorishniy et al., 2022).
        inputs, encoded = self.encoded_inputs(data, hp.Int("bins", 1, 64, sampling="log", default=16))
        regression = data.task != "classification"
        std, mean = self.target_scale(data) if regression else (1.0, 0.0)
        # The loss is in the target's units: L2 is weighed against its variance.
        x = blocks.dense_body(encoded, hp, units=64, depth=2, dropout=0.1,
                              penalty_scale=std**2)
        # Wide and deep (Cheng et al., 2016): a linear path from the encoded columns
        # beside the deep one, so that the model starts where a linear model ends.
        wide = hp.Boolean("wide", default=True)
        x = keras.layers.Concatenate()([x, encoded]) if wide else x
        if not regression:
            outputs = blocks.classifier_head(x, data.num_classes)
        else:
            # The L2 of the body constrains the output too, the linear path included.
            penalty = blocks.regularizer(l2=hp.get("l2") * std**2)
            z = keras.layers.Dense(1, kernel_regularizer=penalty, dtype="float32")(x)
            outputs = keras.layers.Rescaling(std, offset=mean, dtype="float32")(z)
        return keras.Model(inputs, outputs, name=self.name)


recipe = Tabular()
train, search, build_model = recipe.train, recipe.search, recipe.build_model
