"""A tabular target in Counterfit 1.1's shape: ``CFTarget`` as the base, the later
attribute names, the model and the samples in a folder named after the target."""

import pickle
import warnings

import numpy as np

from feint.compat.counterfit import CFTarget


class CreditFraud(CFTarget):
    """Benign or fraud, from a scikit-learn pipeline on credit-card transactions."""

    target_name = "creditfraud"
    data_type = "tabular"
    endpoint = "creditfraud/creditfraud_sklearn_pipeline.pkl"
    input_shape = (30,)
    output_classes = ["benign", "fraud"]
    classifier = "closed-box"
    sample_input_path = "creditfraud/creditcard.npz"
    X = []

    def load(self):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("ignore", category=UserWarning)
            with open(self.fullpath(self.endpoint), "rb") as handle:
                self.model = pickle.load(handle)
            self.model._final_estimator.fitted_ = True
            self.data = np.load(self.fullpath(self.sample_input_path), allow_pickle=True)
        self.X = self.data["X"]

    def predict(self, x):
        scores = self.model.predict_proba(x.reshape(x.shape[0], -1))
        return scores.tolist()
