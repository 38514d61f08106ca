"""Named recipes: `--preset tutorial` is the PyTorch DCGAN tutorial exactly; `default` is what the benchmark
(benchmarks/quality.py, results in benchmarks/RESULTS.md) found makes the best pictures per CPU-minute.

Every preset keeps the seed's layer structure (ConvTranspose + BatchNorm + ReLU blocks ending in Tanh for G,
strided Conv + BatchNorm + LeakyReLU(0.2) for D); they differ in widths, batch, learning rates, length,
augmentation and EMA. Any option given explicitly overrides its preset's value. A checkpoint records its preset
and every resolved value, so a resumed run keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_PRESET = "default"
SMALL_IMAGE = 32  # images of at most this many pixels a side take a preset's `small_images` values


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    model: dict[str, Any] = field(default_factory=dict)  # ModelChoice fields
    recipe: dict[str, Any] = field(default_factory=dict)  # Recipe fields
    length: dict[str, Any] = field(default_factory=dict)  # Length fields, when no length option is given
    # Recipe fields that differ for images of at most SMALL_IMAGE pixels a side, over `recipe`
    small_images: dict[str, Any] = field(default_factory=dict)

    def recipe_for(self, image_size: int) -> dict[str, Any]:
        return {**self.recipe, **self.small_images} if image_size <= SMALL_IMAGE else dict(self.recipe)


PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        "tutorial", "the PyTorch DCGAN tutorial: widths 64, BCE, Adam 2e-4/0.5, batch 128, 5 epochs",
        model={"nz": 100, "ngf": 64, "ndf": 64},
        recipe={"batch_size": 128, "lr_d": 2e-4, "lr_g": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": None,
                "loss": "bce", "label_smoothing": 0.0, "diffaugment": None, "augment_p": 1.0, "mirror": False,
                "r1": 0.0, "r1_target": None, "top_k": None},
        length={"epochs": 5},
    ),
    # Measured on OpenMoji at 64x64, 5 minutes on 2 cores (benchmarks/RESULTS.md). First round: widths 32 beat 48
    # (FD 253 vs 275) and 64; batch 32 beat 64 (253 vs 300); DiffAugment color,translation is essential (without
    # it FD 384, a D that wins); mirrored reals did not help (244 without); an EMA of 0.999 trailed the raw G early
    # (253 vs 228), so the average is shorter (0.99). Third and fourth rounds, against widths 32 at lr 2e-4 (FD
    # 201-209): a faster learner pays, a weaker and cheaper D (ndf 16) with it: lr 4e-4 165, ndf 16 171, both 140,
    # lr 8e-4 with ndf 16 124 (4,286 steps against 2,342); a smaller G did not (widths 24: 210), nor did beta2
    # 0.99 (144 beside 140) or --mbstd (160) this early. That recipe carried on: FD 102 at 10 minutes (263 kimg),
    # 96 at 20 (550 kimg); the length is the knee, 250 kimg (10 minutes at batch 32 then; 12-14 at batch 16).
    # Eighth round: the R1 penalty (--r1 1) on this recipe is level at 5 minutes on OpenMoji (FD 129 beside 125) and
    # pulls ahead after (92 and 77 at 10 and 20 minutes against 113 and 95, recall 0.17 against 0.06), but on
    # Fashion-MNIST, 60,000 images where D does not run ahead, it costs (FD 70 against 40 at 32 px, 118 against 70
    # at 64 px, 5 minutes). Ninth round: the same penalty made adaptive (--r1-target 0.6, adaptive_r1.py) acts only
    # where D runs ahead: on OpenMoji p reaches 1 within 1,500 steps and it scores as --r1 1 does (FD 127, 94, 81 at
    # 5, 10, 20 minutes, recall 0.17 at 20); on Fashion-MNIST gamma stays near 0.001 after the first few hundred
    # steps and FD lands within the previous default's own seed spread at 64 px (5 minutes: 95 against 70 and 94 for
    # seeds 999 and 1) and overlaps it at 32 px (39-42 on two seeds against 38-40). So it is on.
    # Tenth round, with R1 holding D back: batch 16 makes twice the steps at about the same img/s and pays at 5
    # minutes on OpenMoji (FD 106 and 114 on two seeds against 122 for batch 32 in the same round, 121-127 in the
    # ninth), level at 10 and 20 (91 and 82, seed 1 90 and 78, against 92-94 and 81-84), recall 0.11-0.12 at 10;
    # batch 8 loses (130: too few images per second), and lr 1.2e-3, beta1 0 or nz 32 on top of batch 32 did less.
    # At 64 px batch 16 keeps the CPU about as busy as 32 on colour images (337 against 350 img/s) and on grayscale
    # Fashion-MNIST scores level (FD 125 and 90 at 2 and 5 minutes against 119-123 and 92-95 on two seeds); at 32
    # px a step of 16 small images leaves the 2 cores idle between ops (770 against 1,080-1,350 img/s) and scores
    # 60 and 44 against 55-56 and 39-42: there the batch stays 32.
    # Eleventh round, on this recipe at 5 minutes on OpenMoji (FD 104): --ema 0.995 112, --ndf 32 136, --ngf 48 132,
    # --beta1 0 120, --lr-g 1.2e-3 108; top-k G updates (--top-k 0.5) level or ahead everywhere measured (163 against
    # 168 at 2 minutes, 106.5, 109 against 117 on seed 1, 91 against 95 at 10, 77 against 81 at 20, Fashion-MNIST too)
    # with higher precision from 5 minutes on, but by margins inside the seed spread, on one seed beyond 5 minutes
    # and on Fashion-MNIST against other days' runs: not in the preset until a second seed confirms it.
    # Twelfth round, side by side on three seeds: top-k level at 5 minutes (mean FD 111 against 109, each run
    # following the steps the machine gave it), ahead or level at 10 (90.7, 90.5, 99.0 against 94.5, 95.2, 99.0;
    # precision 0.145 against 0.103 on average) and 20 (76.8, 79.8 against 80.9, 80.0); on Fashion-MNIST level at 32
    # px and within the spread of runs at 64 (4 behind one day, 3-12 ahead the day before). So it is on: the best at
    # 10 minutes and past, where the default's 250 kimg ends, and level before.
    # Fifteenth round, with a colour set held out from all tuning (Twemoji, 3,720 emoji that fill the frame): there
    # the default made blobs with a lattice of white dots (FD 305 at 5 minutes) and no augmentation did better (236),
    # while on OpenMoji no augmentation costs (196.5 against 151.5). DiffAugment on a quarter of D's images
    # (--augment-p 0.25) wins on Twemoji (218.6 and 239.3 on two seeds, 182.6 at 10 minutes against 287.8: faces and
    # people, no lattice) and is level on OpenMoji (151.3 and 146.9; 115.2 against 118.5 at 10) and on Fashion-MNIST
    # at 32 px (59 against 66.5 at 2 minutes); p 0.5 scored 267 and 170. So the policy now touches a quarter of them.
    "default": Preset(
        "default", "more, cheaper steps: G width 32, D width 16, batch 16 (32 up to 32x32), Adam 8e-4, DiffAugment "
        "color+translation on a quarter of D's images, EMA 0.99 of G, an R1 penalty on D (gamma up to 1) while D "
        "runs ahead, G learning from the best half of each batch's fakes (top-k); 250k images shown",
        model={"nz": 100, "ngf": 32, "ndf": 16},
        recipe={"batch_size": 16, "lr_d": 8e-4, "lr_g": 8e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.99,
                "loss": "bce", "label_smoothing": 0.0, "diffaugment": "color,translation", "augment_p": 0.25,
                "mirror": False, "r1": 1.0, "r1_target": 0.6, "top_k": 0.5},
        length={"kimg": 250},
        small_images={"batch_size": 32},
    ),
}


def get(name: str) -> Preset:
    return PRESETS[name]
