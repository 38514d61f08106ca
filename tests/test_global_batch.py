"""The global batch is the recipe across world sizes, and the float16 loss scalers are part of a resume."""

from __future__ import annotations

import pytest
import torch

from dcgan_cli import checkpoint
from dcgan_cli.checkpoint.state import restore_scalers
from dcgan_cli.data.batches import batch_indices, epoch_permutation
from dcgan_cli.errors import RecipeConflict, UsageError
from dcgan_cli.training.options import TrainOptions
from dcgan_cli.training.recipe import resolve

STORED = {"nz": 8, "ngf": 8, "ndf": 8, "channels": 3, "image_size": 16}


def resumed(world: int, batch: int | None = None, **stored: object) -> int:
    opts = TrainOptions(data=".", batch_size=batch)
    _, recipe, _ = resolve(opts, STORED, {"batch_size": 8, "world_size": 2, "preset": "default", **stored}, world)
    return recipe.batch_size


def test_a_resume_keeps_the_global_batch() -> None:
    assert resumed(1) == 16 and resumed(2) == 8 and resumed(4) == 4  # 2 processes x 8, however many now
    assert resumed(1, batch=16) == 16  # saying the same global batch is no change
    assert resumed(1, global_batch=32) == 32  # the recorded global batch wins over per-process x world
    with pytest.raises(RecipeConflict, match="batch_size=8 .*checkpoint: 16, a global batch of 16 over 1 process"):
        resumed(1, batch=8)
    with pytest.raises(UsageError, match="global batch of 16 cannot be shared by 3 processes"):
        resumed(3)


def test_ranks_share_out_the_single_process_batches() -> None:
    perm = epoch_permutation(64, seed=3, epoch=1)
    for position in range(4):
        one = batch_indices(perm, position, 0, 1, 16)
        two = torch.cat([batch_indices(perm, position, rank, 2, 8) for rank in range(2)])
        four = torch.cat([batch_indices(perm, position, rank, 4, 4) for rank in range(4)])
        assert torch.equal(one, two) and torch.equal(one, four) and one.numel() == 16


def test_loss_scaler_state_survives_a_checkpoint(tmp_path) -> None:
    from conftest import tiny_checkpoint

    path = tiny_checkpoint(tmp_path / "c.safetensors")
    ckpt = checkpoint.load(path, for_resume=True)
    scalers = (torch.amp.GradScaler("cpu", init_scale=512.0, growth_interval=7),
               torch.amp.GradScaler("cpu", init_scale=2.0 ** 16))
    for scaler in scalers:
        scaler.scale(torch.ones(1))  # the scale exists from the first scaled loss
    scalers[0].update(new_scale=64.0)
    ckpt.scalers = {"d": scalers[0].state_dict(), "g": scalers[1].state_dict()}
    checkpoint.save(tmp_path / "s.safetensors", ckpt)
    back = checkpoint.load(tmp_path / "s.safetensors", for_resume=True)
    fresh = (torch.amp.GradScaler("cpu"), torch.amp.GradScaler("cpu"))
    assert restore_scalers(back, fresh)
    assert fresh[0].state_dict() == scalers[0].state_dict() and fresh[0].get_scale() == 64.0
    assert fresh[1].state_dict() == scalers[1].state_dict()
    assert not restore_scalers(ckpt.__class__(config=ckpt.config, generator={}), fresh)  # none recorded
