"""An image target in Counterfit 1.0's shape: 28x28 digits stored flat in 0..255, a
scikit-learn pipeline answering with probabilities, both beside this file."""

import pickle

import numpy as np

from feint.compat.counterfit import Target


class Digits(Target):
    target_data_type = "image"
    target_name = "digits_blackbox"
    target_classifier = "BlackBox"
    target_endpoint = "mnist_sklearn_pipeline.pkl"
    target_input_shape = (1, 28, 28)
    target_output_classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    X = []

    def load(self):
        with open(self.fullpath(self.target_endpoint), "rb") as handle:
            self.model = pickle.load(handle)
        samples = np.load(self.fullpath("mnist_784.npz"), allow_pickle=True)
        self.X = samples["X"]  # 0..255

    def predict(self, x):
        pixels = np.array(x).astype(np.uint8).astype(np.float64)  # whole grey levels only
        return self.model.predict_proba(pixels.reshape(pixels.shape[0], -1)).tolist()
