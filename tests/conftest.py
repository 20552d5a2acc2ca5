"""Shared fixtures: an isolated Dora folder, tiny manifests of generated audio, one trained micro codec."""

import http.server
import os
from pathlib import Path
import subprocess
import sys
import typing as tp

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 32000


def pytest_configure(config):
    # Every test run gets its own Dora folder and user config folder, never the user's.
    # These must be set before `beatlm.train` is first imported (it reads them at import).
    base = Path(os.environ.get("PYTEST_BEATLM_TMP") or _mkdtemp())
    os.environ["AUDIOCRAFT_DORA_DIR"] = str(base / "dora")
    os.environ["BEATLM_CONFIG_DIR"] = str(base / "user_config")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # librosa's numba kernels cache their compiled code next to librosa in the venv. Two pytest workers
    # compiling the same kernel at once in a fresh venv wrote a cache that then crashed every process loading
    # it (segfault in librosa.util.localmax): each run (each worker) compiles into its own folder instead.
    os.environ["NUMBA_CACHE_DIR"] = str(base / "numba")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # `make test` runs one pytest worker per core (pytest-xdist): each worker and every process it starts
        # takes one thread, or the workers' OpenMP pools spin against each other on the shared cores.
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
        import torch
        torch.set_num_threads(1)


def _mkdtemp() -> str:
    import tempfile
    return tempfile.mkdtemp(prefix="beatlm-tests-")


class _RunsCode:
    """A pickle payload that would create the folder `marker` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def evil_pickle(tmp_path) -> tp.Callable[..., tp.Tuple[Path, Path]]:
    """`evil_pickle(protocol=2)`: a checkpoint-looking pickle that runs code; returns (file, marker)."""
    def make(protocol: int = 2) -> tp.Tuple[Path, Path]:
        import pickle
        marker = tmp_path / "pwned"
        path = tmp_path / "checkpoint.th"
        path.write_bytes(pickle.dumps({"model": _RunsCode(marker)}, protocol=protocol))
        return path, marker
    return make


@pytest.fixture(scope="session")
def dora_dir() -> Path:
    """The Dora folder of this test session (also `beatlm.train.main.dora.dir`)."""
    from beatlm import train
    path = Path(os.environ["AUDIOCRAFT_DORA_DIR"])
    assert train.main.dora.dir == path
    return path


@pytest.fixture(scope="session")
def tiny_egs(tmp_path_factory) -> Path:
    """Folder with train/ and valid/ manifests (audiocraft format) over 4 s generated loops."""
    from beatlm.data.manifest import write_manifest
    from beatlm.dataset_builders.loops import write_loops
    root = tmp_path_factory.mktemp("tiny")
    write_loops(root / "audio" / "train", count=3, seconds=4.0, sample_rate=SAMPLE_RATE, seed=0)
    write_loops(root / "audio" / "valid", count=1, seconds=4.0, sample_rate=SAMPLE_RATE, seed=50)
    for split in ("train", "valid"):
        write_manifest(root / "audio" / split, root / "egs" / split)
    return root / "egs"


def _datasource_args(egs: Path) -> tp.List[str]:
    return [f"datasource.train={egs / 'train'}", f"datasource.valid={egs / 'valid'}",
            f"datasource.evaluate={egs / 'valid'}", f"datasource.generate={egs / 'valid'}"]


def _run_dora(*args: str, cwd: tp.Optional[Path] = None, check: bool = True,
              env: tp.Optional[dict] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dora", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    if check and proc.returncode != 0:
        raise AssertionError(f"dora {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def datasource_args() -> tp.Callable[[Path], tp.List[str]]:
    """`datasource_args(egs)`: overrides pointing every split of a solver at a manifest folder."""
    return _datasource_args


@pytest.fixture(scope="session")
def run_dora() -> tp.Callable[..., subprocess.CompletedProcess]:
    """`run_dora(*args, cwd=None, check=True, env=None)`: run `python -m dora <args>` as a user would."""
    return _run_dora


@pytest.fixture(scope="session")
def beat_corpus(tmp_path_factory) -> Path:
    """A rendered corpus of 8 beats of 4 s at 32 kHz with MusicInfo sidecars (train 6, valid 1, test 1)."""
    from beatlm.dataset_builders.synth import corpus
    out = tmp_path_factory.mktemp("beats") / "beats"
    corpus.render_corpus(out, num_clips=8, duration=4.0, sample_rate=32000, seed=5, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_mulan():
    """An untrained micro MuLaN (2 s windows) whose quantizer is fitted on random unit vectors.

    Shared by the session: deep-copy it before anything that changes it (a `MulanConditioner` freezes
    the MuLaN it is given; training changes its weights)."""
    import torch

    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    cfg = train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2"]).cfg
    torch.manual_seed(0)
    model = get_mulan_model(cfg.mulan)
    model.quantizer.fit(torch.nn.functional.normalize(torch.randn(256, model.dim), dim=-1), epochs=2)
    return model.eval()


# The micro codec used across tests: 2 epochs of 2 updates on the tiny manifests.
CODEC_ARGS = ["solver=compression/beats", "model_scale=micro", "optim.epochs=2", "optim.updates_per_epoch=2",
              "dataset.valid.num_samples=2", "dataset.evaluate.num_samples=2", "dataset.generate.num_samples=1",
              "dataset.generate.segment_duration=1", "rvq.kmeans_iters=2"]


@pytest.fixture(scope="session")
def codec_xp(tiny_egs, dora_dir) -> tp.Tuple[tp.List[str], tp.Any]:
    """(dora args, XP) of a micro codec trained through `dora run` for 2 epochs of 2 updates."""
    from beatlm import train
    args = CODEC_ARGS + _datasource_args(tiny_egs)
    _run_dora("-P", "beatlm", "run", *args)
    return args, train.main.get_xp(args)


@pytest.fixture(scope="session")
def fake_tokenizers() -> tp.Dict[str, type]:
    """Stand-ins whose tokens count frames (a clock): {"codec": FakeCodec, "semantic": FakeSemantic}.

    `FakeCodec(salt=0, num_codebooks=2, cardinality=1024, fail_on_call=None)` is a CompressionModel-like
    module at 50 fps (code j of every codebook is j); `FakeSemantic(salt=0, cardinality=500)` is a
    semantic tokenizer at 25 fps (token i is i). Both count their `encode` calls in `calls`; the
    salt changes their signature; the codec raises at call number `fail_on_call`.
    """
    import torch
    from torch import nn

    class FakeCodec(nn.Module):
        def __init__(self, salt: int = 0, num_codebooks: int = 2, cardinality: int = 1024,
                     fail_on_call: tp.Optional[int] = None):
            super().__init__()
            self.register_buffer("salt", torch.tensor(float(salt)))
            self.sample_rate, self.channels, self.frame_rate = SAMPLE_RATE, 1, 50
            self.num_codebooks, self.cardinality = num_codebooks, cardinality
            self.fail_on_call, self.calls = fail_on_call, 0

        def encode(self, wav: torch.Tensor) -> tp.Tuple[torch.Tensor, None]:
            self.calls += 1
            if self.calls == self.fail_on_call:
                raise RuntimeError("interrupted")
            frames = -(-wav.shape[-1] // (self.sample_rate // self.frame_rate))
            codes = torch.arange(frames) % self.cardinality
            return codes.expand(wav.shape[0], self.num_codebooks, frames).clone(), None

    class FakeSemantic:
        def __init__(self, salt: int = 0, cardinality: int = 500):
            self.salt, self.cardinality, self.frame_rate, self.calls = salt, cardinality, 25, 0

        def signature(self) -> str:
            return f"fake-semantic-{self.salt}"

        def encode(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
            self.calls += 1
            frames = -(-wav.shape[-1] // (sample_rate // self.frame_rate))
            return (torch.arange(frames) % self.cardinality).expand(wav.shape[0], frames).clone()

    return {"codec": FakeCodec, "semantic": FakeSemantic}


@pytest.fixture(scope="session")
def hierarchy_parts(codec_xp, tmp_path_factory) -> tp.Dict[str, Path]:
    """Files a stage solver stands on: the micro codec export, a tiny MuLaN export (2 s windows, quantizer
    fitted on random vectors) and a librosa semantic tokenizer of 16 clusters fitted on random features."""
    import torch

    from beatlm import train
    from beatlm.models.builders import get_mulan_model
    from beatlm.modules.semantic_features import LibrosaFeatures
    from beatlm.modules.semantic_tokenizer import SemanticTokenizer
    from beatlm.utils.export import _write_export, export_codec
    root = tmp_path_factory.mktemp("parts")
    codec = export_codec(f"//sig/{codec_xp[1].sig}", root / "codec.th")
    cfg = train.main.get_xp(["solver=musiclm/mulan", "model_scale=micro", "mulan.window=2"]).cfg
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_mulan_model(cfg.mulan)
        model.quantizer.fit(torch.nn.functional.normalize(torch.randn(256, model.dim), dim=-1), epochs=2)
        mulan = _write_export(root / "mulan.th", {"mulan": model.mulan.state_dict(),
                                                  "quantizer": model.quantizer.state_dict()},
                              cfg, {"kind": "mulan"}, overwrite=False)
        tokenizer = SemanticTokenizer(LibrosaFeatures())
        tokenizer.fit(torch.randn(2000, tokenizer.source.dim), clusters=16, seed=0)
    semantic = tokenizer.save(root / "semantic.th")
    return {"codec": codec, "mulan": mulan, "semantic": semantic}


def _stage_args(stage: str, corpus: Path, parts: tp.Mapping[str, Path], *extra: str) -> tp.List[str]:
    egs = corpus / "egs"
    return [f"solver=musiclm/{stage}", "model_scale=micro", "transformer_lm.dim=32", "transformer_lm.num_layers=2",
            f"compression_model_checkpoint={parts['codec']}", f"mulan_checkpoint={parts['mulan']}",
            f"semantic_tokenizer_checkpoint={parts['semantic']}", "dataset.batch_size=2",
            "dataset.segment_duration=1.0", "optim.epochs=1", "optim.updates_per_epoch=2",
            "dataset.valid.num_samples=2", "dataset.evaluate.num_samples=2", "dataset.generate.num_samples=1",
            f"datasource.train={egs / 'train'}", f"datasource.valid={egs / 'valid'}",
            f"datasource.evaluate={egs / 'valid'}", f"datasource.generate={egs / 'valid'}", *extra]


@pytest.fixture(scope="session")
def stage_args() -> tp.Callable[..., tp.List[str]]:
    """`stage_args(stage, corpus, parts, *extra)`: Dora arguments of a tiny run of a stage solver."""
    return _stage_args


@pytest.fixture(scope="session")
def tiny_bundle(hierarchy_parts, tmp_path_factory) -> Path:
    """A model bundle of the `hierarchy_parts` and three untrained tiny stage LMs (dim 32, 2 layers, 1 s windows),
    exported as `beatlm export stage` writes them and assembled by `export_bundle`."""
    import torch

    from beatlm import train
    from beatlm.data.token_cache import codec_info, mulan_info
    from beatlm.models.builders import get_stage_lm
    from beatlm.models.bundle import export_bundle
    from beatlm.models.loaders import load_compression_model, load_mulan_model
    from beatlm.modules.semantic_tokenizer import SemanticTokenizer
    from beatlm.utils.export import _write_export
    root = tmp_path_factory.mktemp("bundle")
    codec = load_compression_model(hierarchy_parts["codec"])
    mulan = load_mulan_model(hierarchy_parts["mulan"])
    tokenizer = SemanticTokenizer.load(hierarchy_parts["semantic"], mulan=mulan)
    trained_on = {"codec": codec_info(codec)["signature"], "mulan": mulan_info(mulan)["signature"],
                  "semantic_tokenizer": tokenizer.signature()}
    kc, card = 2, int(codec.cardinality)
    specs = {
        "semantic": {"stage": "semantic", "n_q": 1, "card": tokenizer.cardinality, "frame_rate": 25.0,
                     "aligned": None},
        "coarse": {"stage": "coarse", "n_q": kc, "card": card, "frame_rate": 50.0,
                   "aligned": {"attribute": "semantic_tokens", "num_streams": 1,
                               "cardinality": tokenizer.cardinality, "frame_rate": 25.0}},
        "fine": {"stage": "fine", "n_q": codec.num_codebooks - kc, "card": card, "frame_rate": 50.0,
                 "aligned": {"attribute": "coarse_codes", "num_streams": kc, "cardinality": card, "frame_rate": 50.0}}}
    stages = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for stage, spec in specs.items():
            cfg = train.main.get_xp(_stage_args(stage, root, hierarchy_parts)).cfg
            lm = get_stage_lm(cfg, spec, mulan)
            stages[stage] = _write_export(root / f"{stage}.th", lm.state_dict(), cfg,
                                          {"kind": "stage", "stage": stage, "spec": spec, "window": 1.0,
                                           "trained_on": trained_on}, overwrite=False)
    return export_bundle(root / "tiny-bundle", codec=str(hierarchy_parts["codec"]), mulan=str(hierarchy_parts["mulan"]),
                         semantic_tokenizer=str(hierarchy_parts["semantic"]),
                         **{stage: str(path) for stage, path in stages.items()})


@pytest.fixture(scope="session")
def tiny_musiclm(tiny_bundle):
    """`MusicLM.get_pretrained(tiny_bundle)` (shared: tests that change its generation params must set them)."""
    from beatlm.models.musiclm import MusicLM
    return MusicLM.get_pretrained(str(tiny_bundle), device="cpu")


def _gloo_worker(rank: int, world: int, port: int, fn: tp.Callable, args: tuple, queue: tp.Any) -> None:
    import pickle
    import traceback

    import torch
    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        queue.put((rank, True, pickle.dumps(fn(*args))))  # plain bytes: no tensor shared with an exiting process
    except BaseException:
        queue.put((rank, False, traceback.format_exc()))
    finally:
        torch.distributed.destroy_process_group()


@pytest.fixture(scope="session")
def run_gloo() -> tp.Callable[..., tp.List[tp.Any]]:
    """`run_gloo(fn, *args, world=2)`: `fn(*args)` in `world` forked processes joined in a gloo process group;
    returns each rank's result (picklable), in rank order. `fn` may be a local function (the processes fork)."""
    import pickle
    import socket

    import torch.multiprocessing as mp

    def run(fn: tp.Callable, *args: tp.Any, world: int = 2, timeout: float = 300) -> tp.List[tp.Any]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_gloo_worker, args=(rank, world, port, fn, args, queue)) for rank in range(world)]
        for proc in procs:
            proc.start()
        try:
            results = {}
            for _ in range(world):
                rank, ok, value = queue.get(timeout=timeout)
                if not ok:
                    raise AssertionError(f"rank {rank} failed:\n{value}")
                results[rank] = pickle.loads(value)
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
        return [results[rank] for rank in range(world)]
    return run


# ---- grids: the user's grid settings ----

@pytest.fixture
def grid_config(monkeypatch, tmp_path) -> tp.Callable[[tp.Mapping[str, tp.Any]], Path]:
    """`grid_config(settings)`: a fresh `$BEATLM_CONFIG_DIR` (restored after the test) whose
    `grids/settings.yaml` holds `settings`; returns the config folder."""
    import yaml
    root = tmp_path / "user_config"

    def write(settings: tp.Mapping[str, tp.Any]) -> Path:
        monkeypatch.setenv("BEATLM_CONFIG_DIR", str(root))
        (root / "grids").mkdir(parents=True, exist_ok=True)
        (root / "grids" / "settings.yaml").write_text(yaml.safe_dump(dict(settings)))
        return root
    return write


# Stand-in paths for the stage sweeps' frozen parts: listing experiments never opens them.
STAGE_PARTS = {"compression_model_checkpoint": "/parts/codec.th", "mulan_checkpoint": "/parts/mulan.th",
               "semantic_tokenizer_checkpoint": "/parts/semantic.th"}


@pytest.fixture
def stage_parts() -> tp.Dict[str, str]:
    """Overrides naming a codec, MuLaN and semantic tokenizer (paths that need not exist to list a grid)."""
    return dict(STAGE_PARTS)


# ---- data pipeline: loopback servers (a fake OpenAI-compatible chat API, a static file server) ----

class _QuietServer(http.server.ThreadingHTTPServer):
    """A threaded loopback server that does not print clients hanging up (yt-dlp probes and closes)."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FakeChatServer:
    """An OpenAI-compatible `/v1/chat/completions` on 127.0.0.1 whose answers follow a script.

    `script` is consumed one entry per request: "ok" (a JSON answer of `batch` distinct captions),
    "429", "500", "401", "malformed" (not JSON), "timeout" (answers after `delay` s), or a callable
    returning the answer's content string; once empty, every request is "ok". `requests` keeps
    (headers, body) of each request.
    """

    WORDS = ("dusty vinyl crackle warm rhodes chopped soul sample punchy kick crisp snare swung hats deep sub "
             "gliding bass eerie choir bell melody dark pads bright piano flute loop airy synth distorted "
             "cowbell memphis tape saturation jazzy upright horns stabs sparse minimal rolling triplet "
             "haunting strings lush reverb gritty lofi mellow late night west coast whistle").split()

    def __init__(self, batch: int = 3, delay: float = 1.0):
        import threading
        self.batch, self.delay = batch, delay
        self.script: tp.List[tp.Any] = []
        self.requests: tp.List[tp.Tuple[tp.Dict[str, str], tp.Dict[str, tp.Any]]] = []
        self.counter = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                import json
                fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body or b"{}")))
                step = fake.script.pop(0) if fake.script else "ok"
                if step == "timeout":
                    import time
                    time.sleep(fake.delay)
                    step = "ok"
                if step in ("429", "500", "401"):  # a 401 echoes the key, as careless servers do
                    echo = self.headers.get("authorization", "") if step == "401" else ""
                    return self._send(int(step), {"error": {"message": f"scripted {step} {echo}", "type": "test"}})
                content = step() if callable(step) else "{not json" if step == "malformed" else fake.answer()
                self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}]})

            def _send(self, status, payload):
                import json
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    if status == 429:
                        self.send_header("retry-after", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def caption(self) -> tp.Dict[str, tp.Any]:
        """A valid caption, different from every earlier one (random words, a numbered take)."""
        import numpy as np
        self.counter += 1
        rng = np.random.default_rng(self.counter)
        words = [str(w) for w in rng.choice(self.WORDS, size=8, replace=False)]
        styles = ("trap", "boom_bap", "drill", "lofi")
        return {"description": f"Take {self.counter}: " + " ".join(words) + ".",
                "style": styles[self.counter % 4], "bpm": 70 + self.counter % 90, "key": "F minor",
                "moods": words[:2], "instruments": words[2:5], "query": f"{words[0]} {words[1]} type beat"}

    def answer(self) -> str:
        import json
        return json.dumps({"captions": [self.caption() for _ in range(self.batch)]})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_chat():
    """A `FakeChatServer` on a free loopback port (its `.url` is the base URL, `/v1` included)."""
    server = FakeChatServer()
    yield server
    server.close()


@pytest.fixture
def file_server(tmp_path):
    """A static HTTP server on 127.0.0.1 over a fresh folder: yields (folder, base URL)."""
    import functools
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    root = tmp_path / "www"
    root.mkdir()
    server = _QuietServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
