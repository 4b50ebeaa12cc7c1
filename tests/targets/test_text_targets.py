"""Text targets declared in YAML: a skops TF-IDF pipeline and an HTTP endpoint that takes
text, with samples from CSV, JSON Lines and folders of .txt files; Counterfit's review file."""

from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from feint import api
from feint.data.movie_reviews import read_counterfit_csv, read_reviews, review_split
from feint.engine.run import execute_run
from feint.errors import FeintError
from feint.targets import get_target

COUNTERFIT_CSV = str(
    Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit" / "movie-reviews-scores-full.csv"
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A real TF-IDF + logistic regression on the packaged Rotten Tomatoes sentences,
    saved with skops, and 30 held-out sentences in three sample formats."""
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    folder = tmp_path_factory.mktemp("text")
    texts, y = read_reviews("rotten_tomatoes")
    order = np.random.default_rng(0).permutation(len(texts))
    train, held = order[:5000], order[5000:5030]
    model = make_pipeline(TfidfVectorizer(min_df=2), LogisticRegression(max_iter=500))
    model.fit([texts[i] for i in train], y[train])
    sio.dump(model, folder / "rt.skops")
    with open(folder / "rt.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence", "sentiment"])
        w.writerows([texts[i], ("neg", "pos")[y[i]]] for i in held)
    (folder / "rt.jsonl").write_text("".join(json.dumps({"text": texts[i], "label": int(y[i])}) + "\n" for i in held))
    for k, i in enumerate(held):
        sub = folder / "by_class" / ("neg", "pos")[y[i]]
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{k:03d}.txt").write_text(texts[i], encoding="utf-8")
    return folder, model, [texts[i] for i in held], y[held]


def _declare(folder, name, samples, model="rt.skops"):
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ndata_type: text\nclasses: [neg, pos]\nmodel: {json.dumps(model)}\nsamples: {json.dumps(samples)}\n"
    )
    return str(path)


@pytest.mark.parametrize(
    "samples",
    [{"csv": "rt.csv", "text": "sentence", "label": "sentiment"}, "rt.jsonl", {"texts": "by_class"}],
)
def test_a_skops_text_pipeline_in_yaml_is_attacked(pipeline, samples):
    folder, model, texts, labels = pipeline
    target = get_target(_declare(folder, "rt_" + str(abs(hash(json.dumps(samples))) % 10**6), samples))
    assert target.data_type == "text" and not target.open_box and len(target.X) == 30
    assert sorted(target.X.tolist()) == sorted(texts)
    np.testing.assert_allclose(target.predict(target.X[:5]), model.predict_proba(list(target.X[:5])), rtol=1e-6)
    run = execute_run(target, api.new_attack("synonym", {"sample_index": "0:8"}))
    assert run.successes >= 2
    for s in run.samples:  # the model's own answer for the stored adversarial text
        assert ("neg", "pos")[int(model.predict_proba([s.text["adversarial"]])[0].argmax())] == s.final_label


def test_bad_text_samples_are_one_line(pipeline):
    folder = pipeline[0]
    with pytest.raises(FeintError, match="no column 'review'; its columns: sentence, sentiment"):
        get_target(_declare(folder, "bad1", {"csv": "rt.csv", "text": "review"}))
    with pytest.raises(FeintError, match="leave input_shape out"):
        path = folder / "bad2.yaml"
        path.write_text(
            "name: bad2\ndata_type: text\ninput_shape: [3]\nclasses: [a, b]\nmodel: rt.skops\nsamples: rt.csv\n"
        )
        get_target(str(path))


class _Sentiment(BaseHTTPRequestHandler):
    model = None
    batches: list[int] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["texts"]
        assert all(isinstance(t, str) for t in texts)
        type(self).batches.append(len(texts))
        out = json.dumps({"scores": self.model.predict_proba(texts).tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_a_text_endpoint_on_localhost_is_scanned(pipeline, fresh_home):
    folder, model, _, _ = pipeline
    _Sentiment.model = model
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sentiment)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/predict"
        endpoint = {"endpoint": {"url": url, "body": {"texts": "$inputs"}, "probabilities": "scores", "batch_size": 64}}
        target = get_target(
            _declare(folder, "rt_api", {"csv": "rt.csv", "text": "sentence", "label": "sentiment"}, endpoint)
        )
        scan = api.scan(target, ["deepwordbug"], common={"sample_index": "0:6"})
        run = scan.runs[0]
        assert run.successes >= 1
        assert max(_Sentiment.batches) > 1  # candidates go in batches, not one request per text
        for s in run.samples:
            assert ("neg", "pos")[int(model.predict_proba([s.text["adversarial"]])[0].argmax())] == s.final_label
    finally:
        server.shutdown()


@pytest.mark.skipif(not Path(COUNTERFIT_CSV).is_file(), reason=f"Counterfit's reviews are not at {COUNTERFIT_CSV}")
def test_counterfit_reviews_are_the_samples_and_stay_out_of_training(monkeypatch):
    texts, labels = read_counterfit_csv(COUNTERFIT_CSV)
    assert len(texts) == 100 and set(labels.tolist()) == {0, 1}
    split = review_split(COUNTERFIT_CSV)
    assert split.samples_x == texts
    assert not set(texts) & set(split.train_x)
    imdb, _ = read_reviews("imdb")
    assert len(set(texts) & set(imdb)) == 54  # those in the package's IMDB set are left out of training
    assert len(split.train_x) == 20000 - len(set(texts) & set(imdb) - set(split.held_x))


def test_a_bad_counterfit_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("review,actual_sentiment\nfine,meh\n")
    with pytest.raises(FeintError, match="actual_sentiment 'meh'; accepted: negative, positive"):
        review_split(bad)


def test_a_counterfit_text_target_class_is_attacked(tmp_path):
    source = tmp_path / "sentiment.py"
    source.write_text(
        """
import numpy as np


class Sentiment:
    target_name = "tiny_sentiment"
    data_type = "text"
    input_shape = (1,)
    output_classes = ["neg", "pos"]
    X = ["this movie is good and fun", "a bad boring film", "great acting, wonderful story"]

    def load(self):
        pass

    def predict(self, x):
        assert isinstance(x, list) and all(isinstance(t, str) for t in x)
        good = ("good", "great", "wonderful", "fun")
        bad = ("bad", "boring", "awful", "terrible")
        scores = [sum(w in good for w in t.lower().split()) - sum(w in bad for w in t.lower().split()) for t in x]
        p = 1 / (1 + np.exp(-2 * np.asarray(scores, float)))
        return np.stack([1 - p, p], axis=1)
"""
    )
    target = get_target(str(source))
    assert target.data_type == "text" and target.input_shape == () and len(target.X) == 3
    run = execute_run(target, api.new_attack("deepwordbug", {"sample_index": "0:3"}))
    assert run.successes >= 2
    assert all(s.text["original"] == target.X[s.index] for s in run.samples)


def test_a_keras_text_model_that_takes_token_ids(pipeline):
    """A Keras 3 model (embedding, mean, dense) trained on the packaged sentences and saved as
    .keras, with its vocabulary file: feint's answers are the Keras model's own on the same ids."""
    import keras

    from feint.targets.text import Vocabulary

    folder, _, texts, _ = pipeline
    every, labels = read_reviews("rotten_tomatoes")
    shuffled = np.random.default_rng(2).permutation(len(every))
    kept = [int(i) for i in shuffled if every[i] not in set(texts)][:3000]
    vocab = Vocabulary.build([every[i] for i in kept], 2000)
    length = 32

    def ids_of(batch):
        out = np.zeros((len(batch), length), dtype=np.int32)
        for row, text in enumerate(batch):
            seq = vocab.ids(text)[:length]
            out[row, : len(seq)] = seq
        return out

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(len(vocab), 16),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(ids_of([every[i] for i in kept]), labels[kept], epochs=8, batch_size=64, verbose=0)
    model.save(folder / "ids.keras")
    (folder / "keras_vocab.txt").write_text("\n".join(vocab.tokens) + "\n", encoding="utf-8")
    path = folder / "keras_ids.yaml"
    path.write_text(
        "name: rt_keras\ndata_type: text\nclasses: [neg, pos]\nmodel: ids.keras\n"
        "tokenizer: {vocabulary: keras_vocab.txt}\nsamples: {csv: rt.csv, text: sentence, label: sentiment}\n"
    )
    target = get_target(str(path))
    assert target.data_type == "text" and not target.open_box
    assert target.info["tokenizer"]["max_length"] == length  # the model's fixed length
    want = np.asarray(model.predict(ids_of(texts[:6]), verbose=0))
    np.testing.assert_allclose(target.predict(target.X[:6]), want, rtol=1e-4, atol=1e-6)
    run = execute_run(target, api.new_attack("deepwordbug", {"sample_index": "0:12"}))
    assert run.successes >= 1
    assert all(s.text["original"] == target.X[s.index] for s in run.samples)


def test_an_onnx_text_model_that_takes_token_ids(pipeline, tmp_path):
    """A torch model trained on the packaged sentences, exported to ONNX with an int64 input,
    its vocabulary in a text file: feint tokenizes, and the model's answers are the torch model's."""
    import torch

    from feint.targets.text import Vocabulary, tokenize

    folder, _, texts, _ = pipeline
    every, labels = read_reviews("rotten_tomatoes")
    shuffled = np.random.default_rng(1).permutation(len(every))  # the file is sorted by label
    kept = [int(i) for i in shuffled if every[i] not in set(texts)][:4000]  # the samples stay out
    train, y = [every[i] for i in kept], labels[kept]
    vocab = Vocabulary.build(train, 3000)
    torch.manual_seed(0)

    class Mean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.e = torch.nn.Embedding(len(vocab), 16, padding_idx=0)
            self.o = torch.nn.Linear(16, 2)

        def forward(self, ids):
            m = (ids != 0).unsqueeze(-1).float()
            return self.o((self.e(ids) * m).sum(1) / m.sum(1).clamp_min(1))

    net = Mean()
    length = 40
    ids = torch.zeros((4000, length), dtype=torch.long)
    for row, text in enumerate(train):
        seq = vocab.ids(text)[:length]
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(ids), torch.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    torch.onnx.export(
        net, (ids[:2],), str(folder / "ids.onnx"), input_names=["ids"], dynamic_axes={"ids": {0: "n"}}, dynamo=False
    )
    (folder / "vocab.txt").write_text("\n".join(vocab.tokens) + "\n", encoding="utf-8")
    path = folder / "ids.yaml"
    path.write_text(
        "name: rt_onnx\ndata_type: text\nclasses: [neg, pos]\nmodel: ids.onnx\n"
        "tokenizer: {vocabulary: vocab.txt}\nsamples: {csv: rt.csv, text: sentence, label: sentiment}\n"
    )
    target = get_target(str(path))
    assert target.info["tokenizer"]["max_length"] == length  # the model's fixed length
    want = []
    for text in texts[:6]:
        row = torch.zeros((1, length), dtype=torch.long)
        seq = [vocab.index.get(t, 1) for t in tokenize(text)][:length]
        row[0, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        want.append(torch.softmax(net(row), 1)[0].detach().numpy())
    np.testing.assert_allclose(target.predict(target.X[:6]), np.stack(want), rtol=1e-4, atol=1e-6)
    run = execute_run(target, api.new_attack("deepwordbug", {"sample_index": "0:12"}))
    assert run.successes >= 1
    # the same model as TorchScript: called on the same ids, the same answers
    torch.jit.save(torch.jit.script(net), str(folder / "ids.pt"))
    script = folder / "script.yaml"
    script.write_text(path.read_text().replace("rt_onnx", "rt_script").replace("ids.onnx", "ids.pt"))
    scripted = get_target(str(script))
    assert not scripted.open_box
    np.testing.assert_allclose(scripted.predict(target.X[:6]), np.stack(want), rtol=1e-4, atol=1e-6)
    script.write_text(script.read_text().replace("tokenizer: {vocabulary: vocab.txt}\n", ""))
    with pytest.raises(FeintError, match="text models take token ids: declare the tokenizer"):
        get_target(str(script))
    path.write_text(path.read_text().replace("{vocabulary: vocab.txt}", "{vocabulary: vocab.txt, unknown: '[UNK]'}"))
    with pytest.raises(FeintError, match=r"tokenizer.unknown: '\[UNK\]' is not a token of vocab.txt"):
        get_target(str(path))
