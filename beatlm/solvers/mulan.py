"""MuLaN solver: contrastive text-audio training, retrieval metrics, and the MuLaN token quantizer.

Trains on (audio window, caption) pairs from manifests whose clips carry MusicInfo sidecars
(audiocraft's MusicDataset), with audiocraft's StandardSolver machinery (checkpoints, resume, EMA,
best state by validation loss) and a learning rate reduced on plateau of the validation loss
(`schedule.lr_scheduler=plateau`) or one of audiocraft's per-update schedules (micro: cosine).
Stages: train / valid (contrastive loss), evaluate (text-to-audio recall@k, median rank, zero-shot
style accuracy, each with its chance level), generate (fits the MuLaN token quantizer on audio
embeddings of the training split; MuLaN generates no audio).
"""

import collections
import logging
import resource
import typing as tp

from audiocraft.solvers import base, builders
import flashy
import torch

from ..bends import mulan_distributed
from ..data.captions import CaptionSampler
from ..data.mel_windows import MelWindow, MelWindowDataset
from ..data.sharding import rank_loader, set_epoch
from ..metrics.mulan import embed_pairs, mulan_metrics
from ..models.builders import get_mulan_frontend, get_mulan_model
from ..utils.errors import BeatLMError
from .distrib import gather_objects, global_sum
from .steps import lr_scheduler, optimize

logger = logging.getLogger(__name__)
SKIP_REASONS = {"no_caption": "no caption (a sidecar description is missing or empty)",
                "silent": "silent audio (RMS below contrastive.min_rms)"}


class MulanSolver(base.StandardSolver):
    """Solver for MuLaN (see the module docstring)."""

    def __init__(self, cfg):
        self.skipped: tp.Counter[str] = collections.Counter()
        self._warned: tp.Set[str] = set()
        super().__init__(cfg)
        self.captions = CaptionSampler(sample=cfg.contrastive.sample_captions, seed=cfg.seed)

    @property
    def best_metric_name(self) -> tp.Optional[str]:
        return "loss"

    def get_formatter(self, stage_name: str) -> flashy.Formatter:
        return flashy.Formatter({"lr": ".2E", "grad_norm": ".3E", "loss": ".4f", "peak_rss_gb": ".2f",
                                 "temperature": ".2f"},
                                exclude_keys=["recall@*_chance", "zero_shot_chance", "zero_shot_classes"])

    def build_model(self) -> None:
        mulan_distributed.apply()  # negatives from every process, and the global loss and gradient on each
        # `mulan` is the whole model (front-end, towers, quantizer). The trained weights (`model`: EMA,
        # best state) and the quantizer (fitted in `generate`, never averaged) are separate state
        # sources: audiocraft's EMA keeps only floating-point tensors and cannot swap the
        # quantizer's boolean buffers back in.
        self.mulan = get_mulan_model(self.cfg.mulan).to(self.device)
        self.model = self.mulan.mulan
        self.quantizer = self.mulan.quantizer
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = builders.get_optimizer(params, self.cfg.optim)
        if self.cfg.schedule.lr_scheduler == "plateau":  # stepped on each validation loss
            plateau = self.cfg.schedule.plateau
            self.lr_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=plateau.factor, patience=plateau.patience,
                threshold=plateau.threshold, min_lr=plateau.min_lr)
        else:  # audiocraft's per-update schedules (cosine, polynomial_decay, ...) over the whole run
            updates = self.cfg.optim.epochs * self.cfg.optim.updates_per_epoch
            self.lr_scheduler = lr_scheduler(self.optimizer, self.cfg.schedule, updates)
        self.register_stateful("model", "quantizer", "optimizer", "lr_scheduler")
        self.register_best_state("model")
        self.register_ema("model")

    @property
    def _plateau(self) -> bool:
        """Whether the learning rate follows the validation loss (else a per-update schedule, or none)."""
        return isinstance(self.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    def build_dataloaders(self) -> None:
        world, valid = flashy.distrib.world_size(), self.cfg.dataset.valid.get("num_samples")
        if valid and valid % world:  # valid steps gather negatives: every process needs as many batches
            raise BeatLMError(f"dataset.valid.num_samples={valid} does not split evenly over {world} processes: "
                              f"make it a multiple of {world}")
        self.dataloaders = builders.get_audio_datasets(self.cfg, dataset_type=builders.DatasetType.MUSIC)
        if self.cfg.frames_in_memory:
            # Train and valid windows (and the quantizer fit, on train) come from log-mel frames computed once;
            # evaluate embeds whole clips of audio, as users do.
            frontend = get_mulan_frontend(self.cfg.mulan)
            for split in ("train", "valid"):
                opts = self.cfg.dataset[split]
                dataset = MelWindowDataset([self.cfg.datasource[split]], frontend, self.cfg.dataset.segment_duration,
                                           num_samples=opts.get("num_samples"), shuffle=bool(opts.get("shuffle", True)),
                                           seed=self.cfg.seed, num_workers=self.cfg.dataset.num_workers)
                # Each process reads its share of every batch (beatlm.data.sharding).
                self.dataloaders[split] = rank_loader(dataset, self.cfg.dataset.batch_size, lockstep=split,
                                                      num_workers=self.cfg.frames_loader_workers,
                                                      collate_fn=MelWindowDataset.collate)

    def show(self) -> None:
        self.logger.info("MuLaN:")
        self.log_model_summary(self.mulan)

    def _skip(self, reason: str, count: int) -> None:
        """Count items left out of training (`skipped_<reason>` in the metrics), and say so once per reason."""
        if not count:
            return
        self.skipped[reason] += count
        if reason not in self._warned:
            self._warned.add(reason)
            self.logger.warning("leaving out training items: %s (counted as skipped_%s in the metrics)",
                                SKIP_REASONS[reason], reason)

    def _pairs(self, batch) -> tp.Tuple[torch.Tensor, tp.List[str]]:
        """Audio windows [B, T] (or log-mel frames [B, F, n_mels]) and their captions, without the items that
        cannot train MuLaN."""
        audio, infos = batch
        if isinstance(infos[0], MelWindow):
            texts = [self.captions(info.path, info.description) for info in infos]
            loud = torch.tensor([info.rms for info in infos]) >= self.cfg.contrastive.min_rms
        else:
            texts = [self.captions(info.meta.path, info.description) for info in infos]
            audio = audio.mean(dim=1)
            loud = audio.pow(2).mean(dim=-1).sqrt() >= self.cfg.contrastive.min_rms
        keep = [i for i, t in enumerate(texts) if t and bool(loud[i])]
        self._skip("no_caption", sum(1 for t in texts if not t))
        self._skip("silent", sum(1 for i, t in enumerate(texts) if t and not bool(loud[i])))
        return audio[keep], [texts[i] for i in keep]

    def _frames(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel frames [B, F, n_mels] on the device of what `_pairs` gives (audio windows [B, T] or frames)."""
        audio = audio.to(self.device)
        return audio if self.cfg.frames_in_memory else self.mulan.log_mel(audio)

    def run_step(self, idx: int, batch: tp.Any, metrics: dict) -> dict:
        audio, texts = self._pairs(batch)
        # A contrastive loss needs negatives; processes share theirs, so all of them decide together.
        usable = global_sum(len(texts)) if flashy.distrib.is_distributed() else len(texts)
        if usable < 2:
            return metrics
        if not texts:
            raise BeatLMError(f"no item of a batch of process {flashy.distrib.rank()} could train MuLaN (see the "
                              "skipped_* metrics): use a larger dataset.batch_size or fewer silent/uncaptioned clips")
        self.mulan.train(self.is_training)
        loss = self.mulan.loss_from_frames(self._frames(audio), texts)
        if self.is_training:
            optimize(loss, self.model, self.optimizer, self.cfg.optim.max_norm, metrics,
                     None if self._plateau else self.lr_scheduler)
            self.mulan.clamp_temperature()
            metrics["temperature"] = self.mulan.temperature
        metrics["loss"] = loss.item()
        return metrics

    def train(self) -> dict:
        self.skipped.clear()
        set_epoch(self.dataloaders["train"], self.epoch)
        metrics = super().train()
        for reason in SKIP_REASONS:  # every process's count (the same keys on each: summed together)
            total = global_sum(self.skipped[reason])
            if total:
                metrics[f"skipped_{reason}"] = total
        metrics["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # this process, so far
        return metrics

    def valid(self) -> dict:
        metrics = super().valid()
        if self._plateau and "loss" in metrics:
            self.lr_scheduler.step(metrics["loss"])
        return metrics

    def evaluate(self) -> dict:
        """Retrieval and zero-shot metrics on whole clips of the evaluate split."""
        self.mulan.eval()
        loader = self.dataloaders["evaluate"]
        lp = self.log_progress("evaluate embeddings", loader, total=len(loader), updates=self.log_updates)
        try:
            local = embed_pairs(self.mulan, lp, self.cfg.sample_rate)  # each process embeds its share
        except ValueError:  # no described clip in this process's share (a small split): the others may have some
            if not flashy.distrib.is_distributed():
                raise
            empty = torch.zeros(0, self.mulan.dim)
            local = (empty, empty, [], [])
        parts = gather_objects(local)
        audio, text = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        genres = [genre for p in parts for genre in p[2]]
        texts = [t for p in parts for t in p[3]]
        if not genres:
            raise BeatLMError(f"no clip of the evaluate split {self.cfg.datasource.evaluate} has a description")
        c = self.cfg.contrastive
        # Retrieval ranks every clip among all of them: computed on the gathered set, the same on every process.
        return mulan_metrics(self.mulan, audio, text, genres, c.zero_shot_template, c.recall_at, texts)

    def generate(self) -> dict:
        """Fit the MuLaN token quantizer on audio embeddings of training windows (best weights).

        With several processes each embeds its share of the windows, rank 0 fits the quantizer on all of
        them and the others take its fitted state."""
        self.mulan.eval()
        loader = self.dataloaders["train"]
        world = flashy.distrib.world_size()
        wanted = -(-self.cfg.generate.quantizer_samples // world)
        chunks: tp.List[torch.Tensor] = []
        total = 0
        lp = self.log_progress("quantizer embeddings", loader, updates=self.log_updates)
        for batch in lp:
            audio, _ = self._pairs(batch)
            if len(audio):
                chunks.append(self.mulan.embed_frames(self._frames(audio)))
                total += len(audio)
            if total >= wanted:
                break
        q = self.cfg.mulan.quantizer
        local = torch.cat(chunks).cpu() if chunks else torch.zeros(0, self.mulan.dim)
        embeddings = torch.cat(gather_objects(local)).to(self.device)
        total = len(embeddings)
        if flashy.distrib.is_rank_zero():
            self.quantizer.fit(embeddings, epochs=q.fit_epochs, seed=self.cfg.seed)
        if world > 1:
            state = flashy.distrib.broadcast_object(self.quantizer.state_dict() if flashy.distrib.is_rank_zero()
                                                    else None)
            self.quantizer.load_state_dict(state)
        tokens = self.quantizer.encode(embeddings)
        used = [len(torch.unique(tokens[:, level])) / q.bins for level in range(q.levels)]
        recon = torch.nn.functional.cosine_similarity(self.quantizer.decode(tokens), embeddings)
        return {"quantizer_embeddings": float(total), "quantizer_codes_used": sum(used) / len(used),
                "quantizer_cosine": float(recon.mean())}
