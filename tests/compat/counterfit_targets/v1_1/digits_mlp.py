"""An image target in Counterfit 1.1's shape: ``CFTarget``, the later attribute names, the
model and the flat 0..255 digits in a folder named after the target."""

import pickle

import numpy as np

from feint.compat.counterfit import CFTarget


class Digits(CFTarget):
    """Handwritten digits, a scikit-learn network answering with probabilities."""

    data_type = "image"
    target_name = "digits_mlp"
    endpoint = "digits_mlp/mnist_sklearn_pipeline.pkl"
    data_path = "digits_mlp/mnist_784.npz"
    input_shape = (1, 28, 28)
    output_classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    classifier = "closed-box"
    X = []

    def load(self):
        with open(self.fullpath(self.endpoint), "rb") as handle:
            self.model = pickle.load(handle)
        self.X = np.load(self.fullpath(self.data_path), allow_pickle=True)["X"].astype(np.float32)

    def predict(self, x):
        pixels = np.array(x).astype(np.uint8).astype(np.float64)
        return self.model.predict_proba(pixels.reshape(pixels.shape[0], -1)).tolist()
