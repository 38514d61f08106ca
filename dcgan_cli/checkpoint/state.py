"""Training state in and out of a checkpoint: `capture` builds the Checkpoint a save writes from live modules,
optimizers and generators; `restore` is its inverse, used by --resume. Kept side by side so a field added to one
is seen in the other."""

from __future__ import annotations

from typing import Any

import torch

from dcgan_cli.checkpoint.format import Checkpoint
from dcgan_cli.errors import CheckpointError


def capture(*, config: dict[str, Any], netg: torch.nn.Module, netd: torch.nn.Module,
            opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, noise: torch.Generator,
            fixed_noise: torch.Tensor, progress: dict[str, Any], options: dict[str, Any], dataset: dict[str, Any],
            ema: torch.nn.Module | None = None, streams: dict[str, torch.Generator] | None = None,
            scalers: tuple[torch.amp.GradScaler, torch.amp.GradScaler] | None = None) -> Checkpoint:
    """Everything a resumed run needs to continue bit for bit (tensors are referenced, not copied). `streams` are
    the random generators besides the noise (DiffAugment's, the mirror's), saved as rng.NAME; `scalers` the
    float16 loss scalers of D and G (their scale and growth tracker decide which steps are skipped)."""
    return Checkpoint(
        config=config,
        generator=netg.state_dict(),
        discriminator=netd.state_dict(),
        generator_ema=ema.state_dict() if ema is not None else None,
        opt_g=opt_g.state_dict(),
        opt_d=opt_d.state_dict(),
        rng={"noise": noise.get_state(), **{name: gen.get_state() for name, gen in (streams or {}).items()}},
        fixed_noise=fixed_noise,
        progress=progress,
        options=options,
        dataset=dataset,
        scalers={"d": scalers[0].state_dict(), "g": scalers[1].state_dict()} if scalers else None,
    )


def restore(ckpt: Checkpoint, netg: torch.nn.Module, netd: torch.nn.Module, opt_g: torch.optim.Optimizer,
            opt_d: torch.optim.Optimizer, noise: torch.Generator, *, rng: bool = True,
            ema: torch.nn.Module | None = None, streams: dict[str, torch.Generator] | None = None
            ) -> torch.Tensor | None:
    """Put a resumable checkpoint into fresh modules, optimizers and noise generator; returns its fixed noise.
    An imported checkpoint (no optimizer or RNG state) fills the modules only.

    Anything that does not fit (a state dict for other shapes, optimizer groups of another size, an RNG state
    of the wrong length) is a CheckpointError, not a stack trace from deep inside torch.
    """
    path = ckpt.header.path if ckpt.header else "checkpoint"
    try:
        netg.load_state_dict(ckpt.generator)
        netd.load_state_dict(ckpt.discriminator or {})
        if ckpt.opt_g is not None and ckpt.opt_d is not None:  # None: imported weights, fresh Adam states
            for opt, saved in ((opt_g, ckpt.opt_g), (opt_d, ckpt.opt_d)):
                opt.load_state_dict(saved)
                match_layouts(opt)
        if rng and ckpt.rng:  # empty: imported weights, the streams start from the recipe's seed
            noise.set_state(ckpt.rng["noise"])
            for name, gen in (streams or {}).items():
                gen.set_state(ckpt.rng[name])
        if ema is not None:
            if ckpt.generator_ema is None:
                raise KeyError("the checkpoint has no G_ema tensors")
            ema.load_state_dict(ckpt.generator_ema)
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"{path}: training state does not fit the model ({reason})") from None
    fixed = ckpt.fixed_noise
    if fixed is not None and (fixed.dim() != 4 or tuple(fixed.shape[1:]) != (ckpt.config["nz"], 1, 1)):
        raise CheckpointError(f"{path}: fixed_noise has shape {list(fixed.shape)}, expected [N, nz, 1, 1]")
    return fixed


def match_layouts(opt: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory layout. A checkpoint stores them contiguous,
    while the parameters may be channels-last; fused Adam pairs a parameter's elements with its moments' by memory
    position, so mismatched strides would silently mix them up (the loop implementation indexes and does not care).
    """
    for group in opt.param_groups:
        for param in group["params"]:
            state = opt.state.get(param, {})
            for name, value in state.items():
                if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                    state[name] = torch.empty_like(param).copy_(value)


def restore_scalers(ckpt: Checkpoint, scalers: tuple[torch.amp.GradScaler, torch.amp.GradScaler]) -> bool:
    """Put the checkpoint's loss scaler states into fresh scalers; False when it has none (not a float16 run,
    or written before they were recorded: the scalers then start again from their initial scale)."""
    if not ckpt.scalers:
        return False
    try:
        scalers[0].load_state_dict(ckpt.scalers["d"])
        scalers[1].load_state_dict(ckpt.scalers["g"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        path = ckpt.header.path if ckpt.header else "checkpoint"
        raise CheckpointError(f"{path}: loss scaler state does not fit ({e})") from None
    return True
