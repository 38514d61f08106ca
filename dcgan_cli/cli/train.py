"""`dcgan train`: options grouped into help panels, TrainOptions built from them (it checks every value), the
live display, and the closing summary. The run itself is training/trainer.py's train()."""

from __future__ import annotations

import dataclasses
import os
import shlex
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from dcgan_cli.cli.common import device_option, json_option, quiet_option
from dcgan_cli.errors import Interrupted
from dcgan_cli.metrics.names import DEFAULT_TRAINING_METRICS, DEFAULT_TRAINING_N, MAX_N, MIN_IMAGES
from dcgan_cli.training.options import TrainOptions

_D: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainOptions)}  # the library's defaults
MODEL, RECIPE, LENGTH, EVAL = "Model", "Recipe", "Length and checkpoints", "Evaluation while training"
DEVICES, DATA, OUTPUT = "Devices and speed", "Data and cache", "Output"


class Loss(str, Enum):
    bce = "bce"
    hinge = "hinge"


class PresetName(str, Enum):
    tutorial = "tutorial"
    default = "default"


class Channels(str, Enum):
    auto = "auto"
    one = "1"
    three = "3"


def _opt(panel: str, help: str, *decls: str, **kw: Any) -> Any:
    """A typer.Option in a help panel; no default shown unless asked (most defaults are 'the checkpoint's')."""
    kw.setdefault("show_default", False)
    return typer.Option(*decls, help=help, rich_help_panel=panel, **kw)


def train(
    data: Annotated[Path, typer.Argument(help="Folder of images, searched recursively, or a .zip / .tar[.gz|.bz2|.xz] "
                                             "of them (read without unpacking).", show_default=False)],
    out: Annotated[Path | None, _opt(OUTPUT, "Run folder.  \\[default: runs/<folder name>]", "--out", "-o")] = None,
    resume: Annotated[bool, _opt(LENGTH, "Continue the run in --out from last.safetensors.", "--resume")] = False,
    preset: Annotated[PresetName | None, _opt(RECIPE, "A named recipe: tutorial (the PyTorch tutorial exactly) or "
                                              "default (the best pictures per CPU-minute measured); any option "
                                              "given overrides its value.  \\[default: default]")] = None,
    kimg: Annotated[float | None, _opt(LENGTH, "Length of the whole run in thousands of images shown, whatever the "
                                       "folder's size.  \\[default: the preset's: 250 for default]")] = None,
    epochs: Annotated[int | None, _opt(LENGTH, "Length of the whole run in epochs of this folder.  \\[default: "
                                       "the preset's: 5 for tutorial]", min=1)] = None,
    max_steps: Annotated[int | None, _opt(LENGTH, "Length of the whole run in steps (the first of --kimg, --epochs "
                                          "and --max-steps reached ends it).", min=1)] = None,
    max_time: Annotated[str | None, _opt(LENGTH, "Stop after this much training in this invocation (decoding and "
                                         "scoring excluded), save and end normally: 90s, 20m, 1.5h, 1h30m.")] = None,
    save_every: Annotated[int, _opt(LENGTH, "Steps between checkpoints.", min=1, show_default=True)]
    = _D["save_every"],
    keep: Annotated[int, _opt(LENGTH, "Checkpoints to keep: last.safetensors plus the newest N-1 step snapshots "
                              "(ckpt-STEP.safetensors).", min=1, show_default=True)] = _D["keep"],
    tensorboard: Annotated[bool, _opt(OUTPUT, "Also write TensorBoard event files to RUN_DIR/tensorboard/ (needs "
                                      "the tensorboard extra).", "--tensorboard")] = False,
    keep_best: Annotated[bool, _opt(LENGTH, "With --eval-every: also keep best.safetensors, the best-scoring step "
                                    "(FD, else SWD), across resumes.", "--keep-best")] = False,
    image_size: Annotated[int | None, _opt(MODEL, "Power of two, 16 to 256.  \\[default: 64]")] = None,
    channels: Annotated[Channels, _opt(MODEL, "auto: 1 if every image is grayscale, else 3.", show_default=True)]
    = Channels.auto,
    nz: Annotated[int | None, _opt(MODEL, "Latent size.  \\[default: 100]", min=1)] = None,
    ngf: Annotated[int | None, _opt(MODEL, "G width.  \\[default: the preset's: 32, tutorial 64]", min=1)] = None,
    ndf: Annotated[int | None, _opt(MODEL, "D width.  \\[default: the preset's: 16, tutorial 64]", min=1)] = None,
    spectral_norm: Annotated[bool, _opt(MODEL, "Spectral normalisation of D's convolutions (SN-GAN; D then has no "
                                        "BatchNorm).  \\[default: off]", "--spectral-norm")] = False,
    mbstd: Annotated[bool | None, _opt(MODEL, "Minibatch standard deviation before D's last conv (ProGAN): D sees "
                                       "how alike a group of images is, which pushes G towards variety.  "
                                       "\\[default: off]", "--mbstd/--no-mbstd")] = None,
    batch_size: Annotated[int | None, _opt(RECIPE, "Images per step, per process.  \\[default: the preset's: 16 "
                                           "(32 up to 32x32), tutorial 128]", min=1)] = None,
    lr: Annotated[float | None, _opt(RECIPE, "Adam learning rate of D and G, above 0.  \\[default: the preset's: "
                                      "0.0008, tutorial 0.0002]")]
    = None,
    lr_d: Annotated[float | None, _opt(RECIPE, "D's learning rate (two time-scales), above 0.  \\[default: --lr]")]
    = None,
    lr_g: Annotated[float | None, _opt(RECIPE, "G's learning rate, above 0.  \\[default: --lr]")] = None,
    beta1: Annotated[float | None, _opt(RECIPE, "Adam beta1, from 0 to below 1.  \\[default: 0.5]")] = None,
    beta2: Annotated[float | None, _opt(RECIPE, "Adam beta2, from 0 to below 1.  \\[default: 0.999]")] = None,
    mirror: Annotated[bool | None, _opt(RECIPE, "Flip each real image left-right with probability 1/2.  "
                                        "\\[default: off]", "--mirror/--no-mirror")]
    = None,
    seed: Annotated[int | None, _opt(RECIPE, "Seed for weights, batch order and noise.  \\[default: 999, the "
                                     "tutorial's]", min=0)] = None,
    loss: Annotated[Loss | None, _opt(RECIPE, "bce (the paper's, non-saturating for G) or hinge.  "
                                      "\\[default: bce]")] = None,
    label_smoothing: Annotated[float | None, _opt(RECIPE, "One-sided label smoothing: real label 1 - S, S from 0 "
                                                  "to below 0.5 (e.g. 0.1).  \\[default: 0]")] = None,
    diffaugment: Annotated[str | None, _opt(RECIPE, "Augment every image D sees with this DiffAugment policy, e.g. "
                                            "color,translation,cutout, or none.  \\[default: the preset's: "
                                            "color,translation, tutorial none]", metavar="POLICY")] = None,
    augment_p: Annotated[float | None, _opt(RECIPE, "Apply --diffaugment to each image D sees with this probability, "
                                            "above 0 and at most 1 (e.g. 0.5), so that D also sees images as they are "
                                            "(needs a policy).  \\[default: the "
                                            "preset's: 0.25, tutorial 1]", metavar="P")] = None,
    ema: Annotated[float | None, _opt(RECIPE, "Keep an exponential moving average of G's weights with this decay, "
                                      "from 0 (off) to below 1 (e.g. 0.999); `sample` then uses it.  \\[default: "
                                      "the preset's: 0.99, tutorial off]")] = None,
    r1: Annotated[float | None, _opt(RECIPE, "R1 gradient penalty on D's real inputs with this weight (gamma), "
                                     "at least 0, e.g. 1 for a small folder and a long run (0: off); applied every "
                                     "4th step, weighted by 4.  \\[default: the preset's: 1, tutorial 0]",
                                     metavar="GAMMA")] = None,
    r1_target: Annotated[float | None, _opt(RECIPE, "Adaptive R1: scale --r1's gamma by a p from 0 to 1 that rises "
                                            "while D's mean confidence on the real images is above this (e.g. 0.6) "
                                            "and falls while it is below, so the penalty acts only once D runs "
                                            "ahead; 0: gamma fixed.  \\[default: the preset's: 0.6, tutorial 0]",
                                            metavar="D_X")] = None,
    top_k: Annotated[float | None, _opt(RECIPE, "Top-k generator updates: G learns only from the fakes of each "
                                        "batch that D finds most real, a share that shrinks from all of them by "
                                        "1% per thousand images shown down to this fraction (e.g. 0.5); 1: all.  "
                                        "\\[default: the preset's: 0.5, tutorial 1]", metavar="FRACTION")] = None,
    eval_every: Annotated[int | None, _opt(EVAL, "Score G every N steps (and at the end) into metrics.jsonl; see "
                                           "`dcgan evaluate`.", min=1)] = None,
    eval_dir: Annotated[Path | None, _opt(EVAL, "Real images to score against.  \\[default: the training "
                                          "images]")] = None,
    eval_n: Annotated[int, _opt(EVAL, "Images per set for --eval-every.", min=MIN_IMAGES, max=MAX_N,
                                show_default=True)] = DEFAULT_TRAINING_N,
    eval_metrics: Annotated[str, _opt(EVAL, "Metrics for --eval-every: swd, fd, kid, prdc (the feature metrics "
                                      "cost ~25 s per 500 images on 2 CPU cores).", metavar="swd,fd,kid,prdc",
                                      show_default=True)] = ",".join(DEFAULT_TRAINING_METRICS),
    device: Annotated[str, device_option(DEVICES)] = "auto",
    channels_last: Annotated[bool | None, _opt(DEVICES, "NHWC memory layout.  \\[default: on for the CPU, where "
                                               "it measures faster; off elsewhere]",
                                               "--channels-last/--no-channels-last")] = None,
    compile_: Annotated[bool, _opt(DEVICES, "torch.compile G and D.", "--compile")] = False,
    amp: Annotated[bool | None, _opt(DEVICES, "Mixed precision: bf16 on a CPU with bf16 instructions (AVX512-BF16, "
                                     "AMX); on CUDA bf16, or fp16 with loss scaling.  \\[default: off; on resume the "
                                     "checkpoint's]", "--amp/--no-amp")] = None,
    sync_bn: Annotated[bool, _opt(DEVICES, "Synchronise BatchNorm across torchrun processes (CUDA).",
                                  "--sync-bn")] = False,
    workers: Annotated[int, _opt(DATA, "Parallel image decoders for the one-time decode.", min=0,
                                 show_default=True)] = _D["workers"],
    cache_dir: Annotated[Path | None, _opt(DATA, "Where decoded datasets are cached.  \\[default: $DCGAN_CACHE_DIR "
                                           "or ~/.cache/dcgan]")] = None,
    no_cache: Annotated[bool, _opt(DATA, "Write no cache: the decoded set is a temp file in the run folder, deleted "
                                   "at the end.", "--no-cache")] = False,
    max_image_pixels: Annotated[int, _opt(DATA, "Skip images larger than this (decompression bombs).", min=1,
                                          show_default=True)] = _D["max_pixels"],
    sample_every: Annotated[int, _opt(OUTPUT, "Steps between fixed-noise grids.", min=1, show_default=True)]
    = _D["sample_every"],
    log_every: Annotated[int, _opt(OUTPUT, "Steps between logged statistics (a host sync each).", min=1,
                                   show_default=True)] = _D["log_every"],
    dry_run: Annotated[bool, _opt(OUTPUT, "Two steps end to end in a temp folder; keep nothing.", "--dry-run")]
    = False,
    json_: Annotated[bool, json_option(OUTPUT)] = False,
    quiet: Annotated[bool, quiet_option(OUTPUT)] = False,
) -> None:
    """Train on a folder of images (crash-safe and resumable).

    \b
    [bold]Examples[/]
      dcgan train ./photos                       [dim]# into runs/photos[/]
      dcgan train ./photos --preset tutorial     [dim]# the PyTorch tutorial[/]
      dcgan train ./photos --out runs/cats --epochs 40 --resume
      dcgan train ./photos --max-time 20m --ema 0.999
      dcgan train ./photos --max-steps 2000 --json | jq -c .
    """
    opts = TrainOptions(
        data=data, out=out, preset=preset.value if preset else None, epochs=epochs, max_steps=max_steps, kimg=kimg,
        max_time=max_time, batch_size=batch_size, lr=lr, lr_d=lr_d, lr_g=lr_g, beta1=beta1, beta2=beta2,
        mirror=mirror, seed=seed, ema=ema, r1=r1, r1_target=r1_target, top_k=top_k, loss=loss.value if loss else None,
        label_smoothing=label_smoothing, diffaugment=diffaugment, augment_p=augment_p, nz=nz, ngf=ngf, ndf=ndf,
        image_size=image_size,
        channels=None if channels is Channels.auto else int(channels.value), spectral_norm=spectral_norm or None,
        mbstd=mbstd,
        workers=workers, device=device, sample_every=sample_every, save_every=save_every, log_every=log_every,
        keep=keep, keep_best=keep_best, tensorboard=tensorboard, eval_every=eval_every, eval_dir=eval_dir,
        eval_n=eval_n, eval_metrics=eval_metrics,
        channels_last=channels_last, compile=compile_, amp=amp, sync_bn=sync_bn, resume=resume, dry_run=dry_run,
        cache_dir=cache_dir, no_cache=no_cache, max_pixels=max_image_pixels,
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 talks; the others still report errors
        quiet, json_ = True, False
    from dcgan_cli.cli.console import emit_json, err_console, safe_text
    from dcgan_cli.cli.render import Renderer
    from dcgan_cli.training.trainer import train as run_training

    console = err_console(quiet)
    try:
        with Renderer(console, json_lines=json_, quiet=quiet) as render:
            end = run_training(opts, render)
    except Interrupted as e:
        e.args = (f"{e}; resume with: dcgan train {shlex.quote(str(e.data))} --out {shlex.quote(str(e.run_dir))} "
                  "--resume",)
        raise
    if end.get("rank", 0) != 0:
        return
    if json_:
        emit_json(end)
    if end.get("dry_run"):
        console.print(f"dry run OK: {end['step']} steps end to end ({end['img_per_s']:.1f} img/s); nothing kept")
        return
    console.print(
        f"done: step {end['step']} in {end['seconds']:.1f} s ({end['img_per_s']:.1f} img/s)\n"
        f"  checkpoint  {safe_text(end['checkpoint'])}\n"
        f"  samples     {safe_text(str(Path(end['run_dir']) / 'samples'))}\n"
        f"  loss plot   {safe_text(str(end['loss_plot']))}\n"
        f"  progress    {safe_text(str(end['progress_gif']))}"
    )
