"""
Title: Your own folder of images
Description: The `cnn` task on a folder with one subfolder per class (here 2,000 MNIST
digits written out as PNG files); the export takes raw uint8 pixels and names classes.

Run: `python examples/image_folder.py` (set RECIPES_DATA_DIR if MNIST is not downloadable).
"""

from pathlib import Path

import tensorflow as tf
from PIL import Image

from recipes import cnn, data

# Write a folder like the ones people hold their images in: photos/<class>/<file>.png
root = Path("out/digits")
x, y = data.load("mnist", limit=2000, validation_split=0).arrays("train")
for i, (image, label) in enumerate(zip(x, y)):
    (root / f"digit_{label}").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0]).save(root / f"digit_{label}" / f"{i}.png")

result = cnn.train(images=root, epochs=5)  # shapes, classes, augmentation: from the data
print("test accuracy:", result.test_metrics["accuracy"])

served = tf.saved_model.load(result.export("out/digits_model"))
print(served.serve(tf.constant(x[:3]))["class_name"].numpy(), "true:", y[:3])
