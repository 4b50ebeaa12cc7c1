"""Test set-up: one FEINT_HOME for the session, so caches (the digits model's lowering) are made once.

Set FEINT_TEST_HOME to reuse a folder (and its trained model) across sessions."""

import os
import tempfile

os.environ["FEINT_HOME"] = os.environ.get("FEINT_TEST_HOME") or tempfile.mkdtemp(prefix="feint-test-")
os.environ.setdefault("KERAS_BACKEND", "torch")
# One thread per process, for this process and every worker and command it starts: on a
# loaded machine OpenMP threads that spin waiting for each other make torch many times
# slower, and the tests assert behaviour, not speed.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

# ART configures logging when first imported (logging.config.dictConfig), which closes every
# handler registered before it, absl's among them (Keras imports absl). absl's handler keeps
# the sys.stderr it saw when imported, which under pytest is a capture stream, so that close
# would pull pytest's captured output from under a later test. Importing ART before anything
# else leaves it nothing to close.
try:
    import art  # noqa: E402, F401
except ImportError:  # pragma: no cover - ART is a dependency; tolerate an install without it
    pass


@pytest.fixture(scope="session")
def digits_keras():
    from feint.targets import get_target

    return get_target("digits_keras")


@pytest.fixture(scope="session")
def digits_blackbox():
    from feint.targets import get_target

    return get_target("digits_blackbox")


@pytest.fixture()
def fresh_home(tmp_path, monkeypatch, digits_keras):
    """A FEINT_HOME of its own (an empty store), sharing the session's models and caches."""
    shared = os.environ["FEINT_HOME"]
    for folder in ("models", "data", "cache"):
        os.makedirs(os.path.join(shared, folder), exist_ok=True)
        (tmp_path / folder).symlink_to(os.path.join(shared, folder), target_is_directory=True)
    monkeypatch.setenv("FEINT_HOME", str(tmp_path))
    return tmp_path
