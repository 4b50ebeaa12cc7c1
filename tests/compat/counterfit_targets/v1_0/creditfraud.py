"""A tabular target in Counterfit 1.0's shape: ``Target`` as the base, ``target_*`` attributes,
the model and the samples beside this file (found with ``fullpath``)."""

import pickle
import warnings

import numpy as np

from feint.compat.counterfit import Target


class CreditFraud(Target):
    """Benign or fraud, from a scikit-learn pipeline on credit-card transactions."""

    target_name = "creditfraud"
    target_data_type = "tabular"
    target_endpoint = "creditfraud_sklearn_pipeline.pkl"
    target_input_shape = (30,)
    target_output_classes = ["benign", "fraud"]
    target_classifier = "BlackBox"
    sample_input_path = "creditcard.npz"
    X = []

    def load(self, **kwargs):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("ignore", category=UserWarning)
            with open(self.fullpath(self.target_endpoint), "rb") as handle:
                self.model = pickle.load(handle)
            self.model._final_estimator.fitted_ = True
            self.data = np.load(self.fullpath(self.sample_input_path), allow_pickle=True)
        self.X = self.data["X"]

    def predict(self, x):
        rows = np.asarray(x).reshape(len(x), -1)
        return self.model.predict_proba(rows).tolist()
