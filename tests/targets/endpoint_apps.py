"""FastAPI apps that serve real scikit-learn models the way serving tools answer, for the
endpoint tests: the Open Inference Protocol (KServe v2), MLflow's scoring server with a
default scikit-learn pyfunc (labels only), per-row objects, maps keyed by class name,
``[{label, score}]`` lists, and image uploads (raw, base64, multipart). Each app counts the
rows it is sent, so the tests hold feint's query counts to them."""

import base64
import io
import itertools
import json
import threading
import time
from typing import Any

import numpy as np


class Seen:
    """What a server saw: rows, requests, and the images it decoded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows = 0
        self.requests = 0
        self.images: list[np.ndarray] = []

    def add(self, rows: int) -> None:
        with self.lock:
            self.rows += rows
            self.requests += 1


def tabular_app(model: Any, columns: list[str], classes: list[str], seen: Seen) -> Any:
    """A binary classifier on ``len(columns)`` features, behind several conventions."""
    from fastapi import FastAPI, HTTPException, Request, Response

    app = FastAPI()

    @app.post("/v2/models/cancer/infer")
    async def infer(request: Request) -> dict:
        body = await request.json()
        (tensor,) = body["inputs"]
        if tensor["datatype"] != "FP32":
            raise HTTPException(400, "FP32 expected")
        x = np.asarray(tensor["data"], np.float32).reshape(tensor["shape"])
        seen.add(len(x))
        wanted = [o["name"] for o in body.get("outputs", [])] or ["predict"]
        outputs = []
        for name in wanted:
            if name == "predict_proba":
                p = model.predict_proba(x)
                outputs.append({"name": name, "shape": list(p.shape), "datatype": "FP64", "data": p.ravel().tolist()})
            elif name == "predict":
                labels = model.predict(x)
                outputs.append({"name": name, "shape": [len(x), 1], "datatype": "INT64", "data": labels.tolist()})
            else:
                raise HTTPException(400, f"no output {name}")
        return {"model_name": "cancer", "id": "1", "outputs": outputs}

    @app.post("/invocations")
    async def invocations(request: Request) -> dict:
        body = await request.json()
        if "dataframe_split" in body:
            split = body["dataframe_split"]
            if split["columns"] != columns:
                raise HTTPException(400, "the columns do not match the model's signature")
            x = np.asarray(split["data"], np.float32)
        else:
            x = np.asarray(body.get("inputs", body.get("instances")), np.float32)
        seen.add(len(x))
        return {"predictions": model.predict(x).tolist()}

    @app.post("/v1/models/cancer:predict")
    async def tf_serving(request: Request) -> dict:
        x = np.asarray((await request.json())["instances"], np.float32)
        seen.add(len(x))
        return {"predictions": model.predict_proba(x).tolist()}

    # Gradio's routes for a function of a list of rows (the real Gradio app is in the gradio tests)
    events: dict[str, list] = {}
    ids = itertools.count()

    @app.post("/gradio_api/call/predict")
    async def gradio_call(request: Request) -> dict:
        (rows,) = (await request.json())["data"]
        x = np.asarray(rows, np.float32)
        seen.add(len(x))
        event_id = f"e{next(ids)}"
        events[event_id] = [model.predict_proba(x).tolist()]
        return {"event_id": event_id}

    @app.get("/gradio_api/call/predict/{event_id}")
    async def gradio_stream(event_id: str) -> Response:
        if event_id not in events:
            text = 'event: error\ndata: "no such event"\n\n'
        else:
            text = f"event: heartbeat\ndata: null\n\nevent: complete\ndata: {json.dumps(events.pop(event_id))}\n\n"
        return Response(text, media_type="text/event-stream")

    @app.post("/gradio_api/run/predict")
    async def gradio_run(request: Request) -> dict:
        (rows,) = (await request.json())["data"]
        x = np.asarray(rows, np.float32)
        seen.add(len(x))
        return {"data": [model.predict_proba(x).tolist()], "is_generating": False, "duration": 0.0}

    @app.post("/objects")
    async def objects(request: Request) -> dict:
        x = np.asarray((await request.json())["inputs"], np.float32)
        seen.add(len(x))
        return {"predictions": [{"probs": p.tolist(), "label": int(p.argmax())} for p in model.predict_proba(x)]}

    @app.post("/keyed")
    async def keyed(request: Request) -> list:
        x = np.asarray((await request.json())["inputs"], np.float32)
        seen.add(len(x))
        return [{c: float(v) for c, v in reversed(list(zip(classes, p)))} for p in model.predict_proba(x)]

    @app.post("/names")
    async def names(request: Request) -> dict:
        x = np.asarray((await request.json())["inputs"], np.float32)
        seen.add(len(x))
        return {"labels": [classes[i] for i in model.predict(x)]}

    return app


def image_app(model: Any, classes: list[str], seen: Seen) -> Any:
    """A classifier of 8x8 grey images sent as PNG or JPEG: raw bodies, base64 in JSON,
    multipart uploads; it answers ``[{label, score}]`` lists, best first, ``top_k`` of them."""
    from fastapi import FastAPI, File, Request, UploadFile
    from PIL import Image

    app = FastAPI()

    def classify(datas: list[bytes], top_k: int) -> list[list[dict]]:
        pixels = [np.asarray(Image.open(io.BytesIO(d)).convert("L"), np.float64) / 255.0 for d in datas]
        with seen.lock:
            seen.images.extend(pixels)
        seen.add(len(pixels))
        probs = model.predict_proba(np.stack([p.reshape(-1) for p in pixels]))
        out = []
        for p in probs:
            order = np.argsort(-p)[:top_k]
            out.append([{"label": classes[i], "score": float(p[i])} for i in order])
        return out

    @app.post("/raw")
    async def raw(request: Request, top_k: int = 10) -> list:
        return classify([await request.body()], top_k)[0]

    @app.post("/b64")
    async def b64(request: Request, top_k: int = 10) -> dict:
        body = await request.json()
        return {"results": classify([base64.b64decode(t) for t in body["images"]], top_k)}

    @app.post("/upload")
    async def upload(file: list[UploadFile] = File(...), top_k: int = 10) -> list:  # noqa: B008
        return classify([await f.read() for f in file], top_k)

    return app


class Served:
    """A uvicorn server of an app on 127.0.0.1 in a thread, with its URL."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        # log_config=None: uvicorn's own logging set-up (dictConfig) closes every handler made
        # before it, absl's among them, whose stream is a capture of an earlier test's stderr
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off", log_config=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command:
    """A server started from its own command line (installed beside this Python), ready
    once ``ready_url`` answers 200."""

    def __init__(self, name: str, args: list[str], ready_url: str, wait: float) -> None:
        import shutil
        import subprocess
        import sys
        import urllib.request
        from pathlib import Path

        exe = shutil.which(name, path=str(Path(sys.executable).parent)) or name
        self.proc = subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
