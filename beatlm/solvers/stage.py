"""What the three MusicLM stage solvers share: cached tokens in, audiocraft's LMModel trained on them.

A stage solver loads the frozen models it stands on (codec, MuLaN, semantic tokenizer), tokenises
every split of its data once into a token cache (reused by later runs and by the other stages,
rebuilt when a tokenizer changes), and trains an `LMModel` on crops of cached tokens, conditioned on
the clip's MuLaN audio tokens and, for coarse and fine, on the previous stage's tokens of the same
frames. Nothing runs the codec or MuLaN during training.

Stages: train / valid (cross-entropy per codebook; in valid also the same batch with its conditions
shuffled across items, and a unigram baseline from the training tokens), evaluate (the valid metrics
on the evaluate split), generate (samples for the captions of a few clips, conditioned on MuLaN text
tokens and, for coarse and fine, on the clip's own previous-stage tokens; coarse and fine write audio).
Subclasses (semantic.py, coarse.py, fine.py) say which tokens are modelled and conditioned on.
"""

import logging
from pathlib import Path
import time
import typing as tp

from audiocraft.modules.conditioners import ConditioningAttributes, JointEmbedCondition
from audiocraft.solvers import base, builders
import flashy
import torch
import torch.nn.functional as F

from ..data.captions import CaptionSampler
from ..data.sharding import rank_loader, set_epoch
from ..data.token_cache import MAX_SHARDS_IN_MEMORY, TokenCache
from ..data.token_dataset import TokenDataset, collate
from ..models.builders import get_stage_lm
from ..models.loaders import load_compression_model, load_mulan_model
from ..modules.semantic_tokenizer import SemanticTokenizer
from ..modules.token_conditioner import token_condition
from ..utils.errors import BeatLMError
from .distrib import global_sum
from .steps import lr_scheduler, optimize

logger = logging.getLogger(__name__)
SPLITS = ("train", "valid", "evaluate", "generate")


class StageSpec:
    """What a stage models (a stateful part of its checkpoints): resuming with other tokenizers fails early."""

    def __init__(self, spec: tp.Dict[str, tp.Any]):
        self.spec = spec

    def state_dict(self) -> tp.Dict[str, tp.Any]:
        return dict(self.spec)

    def load_state_dict(self, state: tp.Dict[str, tp.Any]) -> None:
        if dict(state) != self.spec:
            raise BeatLMError(f"this experiment's checkpoint was trained on {dict(state)}, but the codec / "
                              f"semantic tokenizer / MuLaN given now make {self.spec}: give the same ones, "
                              "or start a new experiment")


class StageSolver(base.StandardSolver):
    """Base of the stage solvers (see the module docstring)."""

    stage: str = ""  # 'semantic', 'coarse' or 'fine': also the MuLaN table namespace

    def __init__(self, cfg):
        self.tokenizers_loaded = False
        self.tokens_trained = 0
        super().__init__(cfg)

    # --- what each stage models -------------------------------------------------------------------
    def make_spec(self) -> tp.Dict[str, tp.Any]:
        """`get_stage_lm`'s spec: streams, cardinality, frame rate, and the aligned condition if any."""
        raise NotImplementedError()

    def targets(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        """Tokens modelled [B, K, T] and their valid frames [B, T]."""
        raise NotImplementedError()

    def aligned(self, batch: tp.Dict[str, torch.Tensor]) -> tp.Optional[tp.Tuple[torch.Tensor, torch.Tensor]]:
        """Previous-stage tokens conditioned on [B, S, T'] and their lengths [B], or None."""
        return None

    def decode(self, codes: torch.Tensor, batch: tp.Dict[str, torch.Tensor]) -> tp.Optional[torch.Tensor]:
        """Audio [B, C, T] of generated tokens (None when the stage has no audio)."""
        return None

    # --- set-up ---------------------------------------------------------------------------------
    @property
    def best_metric_name(self) -> tp.Optional[str]:
        return "ce"

    def get_formatter(self, stage_name: str) -> flashy.Formatter:
        return flashy.Formatter({"lr": ".2E", "ce*": ".3f", "ppl": ".1f", "grad_norm": ".3E",
                                 "tokens_per_s": ".0f"}, exclude_keys=["ce_*q*"])

    def load_tokenizers(self) -> None:
        """Load the codec, MuLaN and the semantic tokenizer named in the config (once)."""
        if self.tokenizers_loaded:
            return
        cfg = self.cfg
        self.codec = load_compression_model(cfg.compression_model_checkpoint, device=self.device).eval()
        self.mulan = load_mulan_model(cfg.mulan_checkpoint, device=self.device).eval()
        if not bool(self.mulan.quantizer.fitted):
            raise BeatLMError(f"MuLaN {cfg.mulan_checkpoint} has no fitted token quantizer: export it from an "
                              "experiment that finished (its generate stage fits the quantizer)")
        self.semantic_tokenizer = SemanticTokenizer.load(cfg.semantic_tokenizer_checkpoint, mulan=self.mulan)
        self.semantic_tokenizer.to(self.device)
        kc, k = int(cfg.coarse_codebooks), int(self.codec.num_codebooks)
        if not 0 < kc < k:
            raise BeatLMError(f"coarse_codebooks={kc}, but codec {cfg.compression_model_checkpoint} has {k} "
                              f"codebooks: the coarse stage needs at least one and the fine stage the rest "
                              f"(1 <= coarse_codebooks <= {k - 1})")
        self.tokenizers_loaded = True

    def build_dataloaders(self) -> None:
        self.load_tokenizers()
        # The Dora folder in use is the XP folder's grandparent: cfg.dora.dir keeps the config's default even
        # when AUDIOCRAFT_DORA_DIR moves experiments elsewhere.
        root = Path(self.cfg.tokens.cache_dir or Path(self.xp.folder).parents[1] / "token_cache")
        caches: tp.Dict[str, TokenCache] = {}
        self.dataloaders = {}
        for split in SPLITS:
            manifest = self.cfg.datasource.get(split)
            if not manifest:
                raise BeatLMError(f"no data for split '{split}': pass dset=<name> or datasource.{split}=DIR")
            if manifest not in caches:
                # Rank 0 tokenises; the other processes wait for the finished cache and read it.
                caches[manifest] = TokenCache.build_or_load(
                    manifest, root, self.codec, self.semantic_tokenizer, self.mulan,
                    batch_size=self.cfg.tokens.batch_size, device=self.device,
                    max_shards_in_memory=self.cfg.tokens.get("max_shards_in_memory") or MAX_SHARDS_IN_MEMORY,
                    wait=not flashy.distrib.is_rank_zero())
            opts = self.cfg.dataset[split]
            shuffle = bool(opts.get("shuffle", split == "train"))
            dataset = TokenDataset(caches[manifest], self.cfg.dataset.segment_duration,
                                   num_samples=opts.get("num_samples"), shuffle=shuffle, seed=self.cfg.seed)
            loader_args = dict(batch_size=self.cfg.dataset.batch_size, collate_fn=collate,
                               num_workers=self.cfg.dataset.num_workers)
            if split == "generate":  # only rank 0 generates: it reads the whole split
                self.dataloaders[split] = torch.utils.data.DataLoader(dataset, shuffle=False, **loader_args)
            else:  # each process reads its share; together one global batch (beatlm.data.sharding)
                # Train steps average gradients; valid / evaluate average metrics whose keys follow the batch.
                self.dataloaders[split] = rank_loader(dataset, lockstep=split, **loader_args)
        self.train_cache = caches[self.cfg.datasource.train]

    def build_model(self) -> None:
        self.load_tokenizers()
        self.autocast_dtype = getattr(torch, self.cfg.autocast_dtype)  # read by StandardSolver.autocast
        self.stage_spec = StageSpec(self.make_spec())
        self.model = get_stage_lm(self.cfg, self.stage_spec.spec, self.mulan, device=self.device)
        self.scaler: tp.Optional[tp.Any] = None
        if self.cfg.fsdp.use:
            self._wrap_with_fsdp()
        self.optimizer = builders.get_optimizer(builders.get_optim_parameter_groups(self.model), self.cfg.optim)
        updates = self.cfg.optim.epochs * self.cfg.optim.updates_per_epoch
        self.lr_scheduler = lr_scheduler(self.optimizer, self.cfg.schedule, updates)
        self.register_stateful("stage_spec", "model", "optimizer", "lr_scheduler")
        if self.scaler is not None:
            self.register_stateful("scaler")
        self.register_best_state("model")
        self.register_ema("model")
        self.unigram = self._unigram_log_probs()

    def _wrap_with_fsdp(self) -> None:
        """Shard the LM with audiocraft's FSDP (`fsdp.*`), as audiocraft's MusicGen solver does: before the optimizer,
        without autocast (FSDP casts parameters itself), with a sharded gradient scaler for float16 parameters."""
        if not str(self.device).startswith("cuda"):
            raise BeatLMError("fsdp.use=true needs CUDA GPUs (audiocraft's FSDP); on CPU train with fsdp.use=false "
                              "(several processes still split the batch)")
        if self.cfg.autocast:
            raise BeatLMError("fsdp.use=true and autocast=true do not go together: FSDP casts the parameters "
                              "itself (fsdp.param_dtype); set autocast=false")
        self.model = self.wrap_with_fsdp(self.model)
        if self.cfg.fsdp.param_dtype == "float16":
            from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler
            self.scaler = ShardedGradScaler()

    def show(self) -> None:
        self.logger.info("%s stage LM: %s", self.stage, self.stage_spec.spec)
        self.log_model_summary(self.model)

    def _unigram_log_probs(self) -> torch.Tensor:
        """Log-frequency of every token per stream in the training cache [K, card] (add-one smoothed)."""
        spec = self.stage_spec.spec
        counts = torch.ones(spec["n_q"], spec["card"])
        clips = TokenDataset(self.train_cache, segment_duration=None, shuffle=False)
        for i in range(len(clips)):
            tokens, _ = self.targets(collate([clips[i]]))
            for k in range(tokens.shape[1]):
                counts[k] += torch.bincount(tokens[0, k].clamp(0, spec["card"] - 1), minlength=spec["card"])
        return (counts / counts.sum(dim=1, keepdim=True)).log()

    # --- training ---------------------------------------------------------------------------------
    def cfg_drop(self, size: int) -> torch.Tensor:
        """Items [size] (bool) trained with the null condition: each with p = classifier_free_guidance.training_dropout
        while training (per item, unlike audiocraft's one draw per batch: every batch mixes both), none otherwise."""
        p = float(self.cfg.classifier_free_guidance.training_dropout) if self.is_training else 0.0
        return torch.rand(size, device=self.device) < p

    def condition_tensors(self, batch: tp.Dict[str, torch.Tensor], drop: torch.Tensor,
                          permutation: tp.Optional[torch.Tensor] = None) -> tp.Dict[str, tp.Any]:
        """Condition tensors from cached tokens; `drop` [B] items get the null condition (CFG dropout)."""
        conditioners = self.model.condition_provider.conditioners
        attribute = self.cfg.mulan_conditioner.attribute
        mulan_tokens = batch["mulan"]
        aligned = self.aligned(batch)
        if permutation is not None:
            mulan_tokens = mulan_tokens[permutation]
            aligned = None if aligned is None else (aligned[0][permutation], aligned[1][permutation])
        out = {attribute: conditioners[attribute].embed_tokens(mulan_tokens, drop.to(self.device))}
        if aligned is not None:
            tokens, lengths = aligned
            lengths = torch.where(drop, torch.zeros_like(lengths), lengths)
            name = self.stage_spec.spec["aligned"]["attribute"]
            out[name] = conditioners[name].embed_tokens(tokens.to(self.device), lengths.to(self.device))
        return out

    def _cross_entropy(self, codes: torch.Tensor, conditions: tp.Dict[str, tp.Any],
                       valid: torch.Tensor) -> tp.Tuple[torch.Tensor, tp.List[torch.Tensor], torch.Tensor]:
        """Mean cross-entropy over valid positions, per stream, and the positions scored [B, K, T]."""
        output = self.model.compute_predictions(codes, [], conditions)
        mask = output.mask & valid[:, None, :]
        per_stream = []
        for k in range(codes.shape[1]):
            m = mask[:, k]
            per_stream.append(F.cross_entropy(output.logits[:, k][m], codes[:, k][m]))
        return torch.stack(per_stream).mean(), per_stream, mask

    def run_step(self, idx: int, batch: tp.Any, metrics: dict) -> dict:
        batch = {name: value.to(self.device) for name, value in batch.items()}
        codes, valid = self.targets(batch)
        drop = self.cfg_drop(codes.shape[0])
        with self.autocast:
            ce, per_stream, scored = self._cross_entropy(codes, self.condition_tensors(batch, drop), valid)
        if self.is_training:
            optimize(ce, self.model, self.optimizer, self.cfg.optim.max_norm, metrics, self.lr_scheduler,
                     scaler=self.scaler)
            metrics["cfg_dropped"] = float(drop.float().mean())
            self.tokens_trained += int(scored.sum())
        metrics["ce"] = ce.item()
        metrics["ppl"] = float(torch.exp(ce))
        metrics.update({f"ce_q{k + 1}": float(v) for k, v in enumerate(per_stream)})
        if not self.is_training:
            metrics.update(self._baselines(batch, codes, scored, drop))
        return metrics

    @torch.no_grad()
    def _baselines(self, batch: tp.Dict[str, torch.Tensor], codes: torch.Tensor, scored: torch.Tensor,
                   drop: torch.Tensor) -> tp.Dict[str, float]:
        """On the positions the model was scored on: the training unigram's cross-entropy (per stream,
        averaged as `ce` is) and, if asked, the model's with every item given another item's conditions."""
        unigram = [-self.unigram[k].to(codes.device)[codes[:, k][scored[:, k]]].mean() for k in range(codes.shape[1])]
        out = {"ce_unigram": float(torch.stack(unigram).mean())}
        out.update({f"ce_unigram_q{k + 1}": float(v) for k, v in enumerate(unigram)})
        if self.cfg.valid.shuffled_conditioning and codes.shape[0] > 1:
            permutation = torch.roll(torch.arange(codes.shape[0], device=codes.device), 1)
            shuffled, per_stream, _ = self._cross_entropy(codes, self.condition_tensors(batch, drop, permutation),
                                                          scored.any(dim=1))
            out["ce_shuffled"] = shuffled.item()
            out.update({f"ce_shuffled_q{k + 1}": float(v) for k, v in enumerate(per_stream)})
        return out

    def train(self) -> dict:
        """One training epoch; also logs `tokens_per_s`, the modelled tokens scored per second of the epoch
        (by all processes together)."""
        self.tokens_trained = 0
        set_epoch(self.dataloaders["train"], self.epoch)
        start = time.time()
        metrics = super().train()
        metrics["tokens_per_s"] = global_sum(self.tokens_trained) / max(time.time() - start, 1e-9)
        return metrics

    def evaluate(self) -> dict:
        """The valid metrics on the evaluate split."""
        self.model.eval()
        with torch.no_grad():
            return self.common_train_valid("evaluate")

    # --- generation -------------------------------------------------------------------------------
    def attributes(self, batch: tp.Dict[str, torch.Tensor],
                   prompts: tp.Sequence[str]) -> tp.List[ConditioningAttributes]:
        """Generation conditions: each prompt's MuLaN text tokens, and the clip's own previous-stage tokens."""
        attribute = self.cfg.mulan_conditioner.attribute
        aligned = self.aligned(batch)
        out = []
        for i, prompt in enumerate(prompts):
            text = JointEmbedCondition(torch.zeros(1, 1, 1), [prompt], torch.tensor([0]),
                                       [int(self.mulan.sample_rate)], [None], [None])
            attrs = ConditioningAttributes(joint_embed={attribute: text})
            if aligned is not None:
                tokens, lengths = aligned
                spec = self.stage_spec.spec["aligned"]
                attrs.wav[spec["attribute"]] = token_condition(tokens[i, :, :int(lengths[i])], spec["frame_rate"])
            out.append(attrs)
        return out

    @torch.no_grad()
    def generate(self) -> dict:
        """Sample for the captions of the generate split's clips; write audio (coarse, fine) or tokens.
        With several processes only rank 0 generates and writes."""
        if not flashy.distrib.is_rank_zero():
            return {}
        self.model.eval()
        out_dir = Path(self.folder) / self.cfg.generate.path / f"epoch_{self.epoch}"
        out_dir.mkdir(parents=True, exist_ok=True)
        describe = CaptionSampler(sample=False)
        cache = self.dataloaders["generate"].dataset.cache
        params = self.cfg.generate.lm
        written, unique = 0, []
        for batch in self.dataloaders["generate"]:
            batch = {name: value.to(self.device) for name, value in batch.items()}
            paths = [cache.clip_metadata[int(i)]["path"] for i in batch["clip"]]
            prompts = [describe(path) or "a beat" for path in paths]
            codes, _ = self.targets(batch)
            tokens = self.model.generate(conditions=self.attributes(batch, prompts), max_gen_len=codes.shape[-1],
                                         use_sampling=params.use_sampling, temp=params.temp,
                                         top_k=min(int(params.top_k), self.model.card),
                                         top_p=params.top_p, cfg_coef=params.cfg_coef)
            unique += [len(torch.unique(t)) / t.numel() for t in tokens]
            wav = self.decode(tokens, batch)
            for i, prompt in enumerate(prompts):
                stem = out_dir / f"{written:03d}"
                (stem.with_suffix(".txt")).write_text(prompt + "\n")
                if wav is None:
                    torch.save({"tokens": tokens[i].cpu(), "prompt": prompt}, stem.with_suffix(".th"))
                else:
                    from audiocraft.data.audio import audio_write
                    audio_write(stem, wav[i].cpu(), int(self.codec.sample_rate), strategy="loudness",
                                loudness_compressor=True)
                written += 1
        logger.info("generate: %d samples for validation prompts in %s", written, out_dir)
        return {"samples": float(written), "unique_token_ratio": sum(unique) / max(1, len(unique))}
