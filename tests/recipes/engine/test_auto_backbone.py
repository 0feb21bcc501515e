"""`--auto`'s move from scratch to a pretrained backbone (`cnn`), offline: offered only
for photos with weights at hand, a weights file's backbone told from its shapes, the
move's cost timed over both fine-tuning phases, and a loop on a tiny folder of colour
images that trains the move in two phases and records it.

No weights can be downloaded here: Keras's cache is a temporary `KERAS_HOME` holding
empty files under the cached names, and the backbone trained is a random one saved
to a local file.
"""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from callbacks.fine_tune import backbones
from recipes import cnn
from recipes.diagnostics import flowchart
from recipes.engine import backbone
from recipes.engine.auto import AutoLoop
from recipes.engine.auto import loop as loop_module
from recipes.engine.auto import moves as moves_module

NAME = "mobilenet_v3_small"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Keras's cache in `tmp_path/models`, empty; `cache(name)` puts a backbone's file in."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()

    def put(name):
        (tmp_path / "models" / backbone.BACKBONES[name].file).write_bytes(b"")
    return put


def arrays(channels=3, n=20, seed=0, **options):
    """`cnn`'s data from `n` random images of `channels` channels."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 8, 8, channels)).astype("uint8")
    return cnn.recipe.load_data(x=x, y=np.arange(n) % 2, **options)


def moves_for(data, verdict, backbone_value="none"):
    """The moves `candidates` offers a from-scratch `cnn` step on `data` for `verdict`."""
    hp = cnn.recipe.hyperparameters(None)
    cnn.recipe.build_model(hp, data=data)
    values = dict(hp.values, backbone=backbone_value)
    best = dict(step=0, hyperparameters=values, augment_scale=1.0, stop_reason=None,
                settings=cnn.recipe.settings(), history={"loss": [1.0] * 12})
    diagnosis = SimpleNamespace(verdict=verdict, advice="")
    return moves_module.candidates(cnn.recipe, data, best, diagnosis, hp.space)


def test_the_backbone_move_is_offered_for_photos_with_cached_weights_only(cache):
    photos = arrays(3)
    assert photos.augment == "photos"
    for verdict in (flowchart.MODEL_BIAS, flowchart.OVERFITTING):
        assert "backbone" not in [m["move"] for m in moves_for(photos, verdict)]  # none cached
    cache("mobilenet_v3_large")
    cache("resnet50")
    first = moves_for(photos, flowchart.OVERFITTING)[0]
    assert (first["move"], first["change"]) == ("backbone", "backbone mobilenet_v3_large")
    assert first["hyperparameters"]["backbone"] == "mobilenet_v3_large"
    cache(NAME)  # on a CPU the lightest cached one
    for verdict in (flowchart.MODEL_BIAS, flowchart.OVERFITTING):
        first = moves_for(photos, verdict)[0]
        assert (first["move"], first["change"]) == ("backbone", f"backbone {NAME}"), verdict
    # Not for an optimization failure, nor from a model that has a backbone already.
    assert "backbone" not in [m["move"] for m in moves_for(photos, flowchart.OPTIMIZATION)]
    assert "backbone" not in [m["move"] for m in moves_for(photos, flowchart.MODEL_BIAS, NAME)]
    # Digits (gray) and colour images taken for digits are not photos; gray clothing
    # (augmentation kind photos, as Fashion-MNIST's) is.
    digits = arrays(1)
    assert digits.augment == "digits"
    assert "backbone" not in [m["move"] for m in moves_for(digits, flowchart.OVERFITTING)]
    as_digits = arrays(3, augment="digits")
    assert "backbone" not in [m["move"] for m in moves_for(as_digits, flowchart.MODEL_BIAS)]
    clothing = arrays(1, augment="photos")
    assert moves_for(clothing, flowchart.MODEL_BIAS)[0]["move"] == "backbone"
    unaugmented = arrays(3, augment="none")
    assert moves_for(unaugmented, flowchart.MODEL_BIAS)[0]["move"] == "backbone"


def test_on_a_gpu_the_move_prefers_efficientnet_among_those_cached(cache, monkeypatch):
    cache(NAME)
    cache("efficientnet_v2_b0")
    photos = arrays(3)
    assert backbone.at_hand(photos) == NAME
    monkeypatch.setattr(backbone.tf.config, "list_physical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert backbone.at_hand(photos) == "efficientnet_v2_b0"


def test_a_weights_file_is_the_only_backbone_offered_and_its_backbone_is_told(tmp_path, cache):
    cache("resnet50")  # cached, but a file given is the backbone to use
    saved = tmp_path / "small.weights.h5"
    backbone.load_backbone(NAME, weights=None).save_weights(saved)
    assert backbone.identify(saved) == NAME
    photos = arrays(3, weights=str(saved))
    # Before the loop tells the file's backbone, a from-scratch model with a weights
    # file is an error (as outside --auto); after, the file waits for the move.
    with pytest.raises(ValueError, match="choose the backbone with"):
        cnn.build_model(None, data=photos)
    told = cnn.recipe.auto_data(photos, cnn.recipe.hyperparameters(None))
    assert told.weights_backbone == NAME and told.weights == str(saved)
    cnn.build_model(None, data=told)
    assert backbone.at_hand(told) == NAME
    first = moves_for(told, flowchart.MODEL_BIAS)[0]
    assert first["change"] == f"backbone {NAME}"
    # A backbone named: the run starts from it, and the file needs no telling.
    named = cnn.recipe.hyperparameters({"backbone": NAME})
    assert cnn.recipe.auto_data(photos, named) is photos
    # The file of gray digits' --auto would be left unused: an error, in one line.
    digits = arrays(1, weights=str(saved))
    with pytest.raises(ValueError) as error:
        cnn.recipe.auto_data(digits, cnn.recipe.hyperparameters(None))
    assert "not photos" in str(error.value) and "\n" not in str(error.value)


def test_a_weights_file_is_told_by_its_name_or_its_shapes_else_one_line(tmp_path):
    # A file named as Keras caches a backbone is that backbone (not opened).
    named = tmp_path / backbone.BACKBONES["resnet50"].file
    named.write_bytes(b"")
    assert backbone.identify(named) == "resnet50"
    whole = tmp_path / "small.keras"
    backbone.load_backbone(NAME, weights=None).save(whole)
    assert backbone.identify(whole) == NAME
    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save_weights(other)
    with pytest.raises(ValueError) as error:
        backbone.identify(other)
    message = str(error.value)
    assert message.startswith(f"The weights in {other} are those of none of the backbones")
    assert "--hp backbone=NAME" in message and "\n" not in message


def folder(root, n=20, size=16, seed=1):
    """Two classes of `n` colour images each, of noise alike: no model is right on all."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size, size, 3)).astype("uint8")
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.slow
def test_the_probe_of_a_backbone_times_both_phases_weighted_by_their_steps(tmp_path,
                                                                            monkeypatch):
    # The fake clock runs 1 s per step with the backbone frozen and 3 s per step with
    # it trainable: the estimate is their mean weighted by the phases' shares.
    saved = tmp_path / "small.weights.h5"
    backbone.load_backbone(NAME, weights=None).save_weights(saved)
    data = cnn.recipe.load_data(images=str(folder(tmp_path / "photos")), weights=str(saved))
    recipe, built = cnn.recipe, []
    build = recipe.build

    def recorded(*args, **kwargs):
        built.append(build(*args, **kwargs))
        return built[-1]

    state = dict(iterations=0, seconds=0.0)

    def clock():
        if not built:
            return 0.0
        model = built[-1]
        done = int(model.optimizer.iterations)
        per_step = 3.0 if backbones(model)[0].trainable else 1.0
        state["seconds"] += (done - state["iterations"]) * per_step
        state["iterations"] = done
        return state["seconds"]

    monkeypatch.setattr(recipe, "build", recorded)
    monkeypatch.setattr(loop_module, "clock", clock)
    hp = recipe.hyperparameters(None)
    loop = AutoLoop(recipe, 600, hp, data, recipe.settings(epochs=4, batch_size=4),
                    tf.distribute.get_strategy(), tmp_path / "run", [], 0, 42)
    step = dict(hyperparameters={"backbone": NAME}, augment_scale=1.0,
                settings=recipe.settings(epochs=4, batch_size=4))
    seconds = loop.step_seconds(step)
    steps = -(-data.train_size // 4)
    head = backbone.head_epochs(steps, 4) * steps
    assert 0 < head < 4 * steps
    share = head / (4 * steps)
    assert seconds == pytest.approx(share * 1.0 + (1 - share) * 3.0)


class Phases(keras.callbacks.Callback):
    """Each training's backbones' `trainable` at each epoch's end."""

    runs = []

    def on_train_begin(self, logs=None):
        Phases.runs.append([])

    def on_epoch_end(self, epoch, logs=None):
        Phases.runs[-1].append([b.trainable for b in backbones(self.model)])


@pytest.mark.slow
def test_auto_on_colour_photos_moves_to_the_backbone_of_the_weights_file(tmp_path,
                                                                           monkeypatch, capsys):
    saved = tmp_path / "small.weights.h5"
    backbone.load_backbone(NAME, weights=None).save_weights(saved)
    real = AutoLoop.diagnose

    def overfitting_then_fine(self, step):
        # The defaults are taken to overfit (the verdict a real small photo set gets),
        # and any later best to be fine, so the loop takes one move and stops.
        diagnosis = real(self, step)
        first = len(self.state["steps"]) == 1
        diagnosis.verdict = flowchart.OVERFITTING if first else flowchart.FINE
        return diagnosis

    monkeypatch.setattr(AutoLoop, "diagnose", overfitting_then_fine)
    monkeypatch.setattr(loop_module, "SCREEN_MOVES", 1)  # the first move, unscreened
    Phases.runs = []
    run_dir = tmp_path / "run"
    result = cnn.train(images=str(folder(tmp_path / "photos")), weights=str(saved), epochs=2,
                       batch_size=8, auto=3600, run_dir=run_dir, verbose=1, diagnose=False,
                       callbacks=[Phases()])
    saved_state = json.loads((run_dir / "auto.json").read_text())
    steps = saved_state["steps"]
    assert len(steps) == 2 and saved_state["stopped"].startswith("fine")
    assert steps[0]["hyperparameters"]["backbone"] == "none"
    step = steps[1]
    assert (step["move"], step["change"]) == ("backbone", f"backbone {NAME}")
    assert step["hyperparameters"]["backbone"] == NAME and step["parent"] == 0
    assert step["diagnosis"].startswith("overfitting")
    # Costed by a timed probe of both models, like any move that changes the model.
    probe = step["probe"]
    assert probe["ratio"] == pytest.approx(probe["step_s"] / probe["parent_step_s"])
    assert saved_state["checks"]["probes"]["0"] == probe["parent_step_s"]
    assert step["estimate"] > 0
    # Two trainings (the probe's fits take no callbacks): from scratch, no backbone;
    # then the move, frozen for its first epoch and trainable for its second.
    assert Phases.runs == [[[], []], [[False], [True]]]
    assert [s["change"] for s in result.auto["steps"]] == ["defaults", f"backbone {NAME}"]
    out = capsys.readouterr().out
    assert f"step 1: backbone {NAME} (estimated" in out
    assert any(line.startswith("   1  overfitting") and f"backbone {NAME}" in line
               for line in out.splitlines())
    page = (run_dir / "report.html").read_text()
    assert f"backbone {NAME}" in page
