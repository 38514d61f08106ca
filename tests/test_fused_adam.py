"""Adam runs as one fused kernel on a CPU; a checkpoint's moments are put back in their parameters' memory layout;
and a run started with the per-tensor Adam resumes with it, so its resume stays bit-exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dcgan_cli import checkpoint
from dcgan_cli.checkpoint.state import match_layouts
from tests.conftest import same, state_tensors
from tests.test_training_options import train


def adam_groups(path: Path) -> list[dict]:
    meta = checkpoint.read_header(path).metadata
    return [json.loads(meta[f"opt{which}.param_groups"])[0] for which in "GD"]


def test_new_runs_use_fused_adam_on_cpu(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--max-steps", "2", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    assert [g["fused"] for g in adam_groups(tmp_path / "run" / "last.safetensors")] == [True, True]


def weights_after(steps_before: int, steps_after: int, reload: bool, fix: bool) -> torch.Tensor:
    """A channels-last weight under fused Adam; with `reload`, its state goes through a contiguous copy (as a
    checkpoint stores it) between the two stretches of steps."""
    gen = torch.Generator().manual_seed(3)
    w = torch.nn.Parameter(torch.randn(8, 4, 4, 4, generator=gen).contiguous(memory_format=torch.channels_last))
    opt = torch.optim.Adam([w], lr=1e-2, fused=True)
    for i in range(steps_before + steps_after):
        if reload and i == steps_before:
            saved = opt.state_dict()
            saved["state"] = {k: {n: v.contiguous() for n, v in s.items()} for k, s in saved["state"].items()}
            opt = torch.optim.Adam([w], lr=1e-2, fused=True)
            opt.load_state_dict(saved)
            if fix:
                match_layouts(opt)
        w.grad = torch.randn(w.shape, generator=gen).contiguous(memory_format=torch.channels_last)
        opt.step()
    return w.detach().clone()


def test_match_layouts_keeps_fused_adam_exact_across_a_reload() -> None:
    whole = weights_after(3, 3, reload=False, fix=False)
    assert torch.equal(whole, weights_after(3, 3, reload=True, fix=True))
    # negative control: without matching the layouts, the fused kernel pairs the wrong elements
    assert not torch.equal(whole, weights_after(3, 3, reload=True, fix=False))


def test_a_run_begun_with_loop_adam_resumes_with_it(image_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint from before the fused default (its groups say fused null) resumes as it began, bit for bit."""
    import dcgan_cli.training.setup as setup

    def loop_adam(net, lr, recipe, device, saved=None):  # what setup built before the fused default
        return torch.optim.Adam(net.parameters(), lr, betas=(recipe.beta1, recipe.beta2))

    with monkeypatch.context() as m:
        m.setattr(setup, "adam", loop_adam)
        assert train(image_dir, tmp_path / "loop", "--max-steps", "6", "--device", "cpu").exit_code == 0
        assert train(image_dir, tmp_path / "split", "--max-steps", "3", "--device", "cpu").exit_code == 0
    assert [g["fused"] for g in adam_groups(tmp_path / "split" / "last.safetensors")] == [None, None]
    r = train(image_dir, tmp_path / "split", "--max-steps", "6", "--resume", "--device", "cpu")  # today's setup.adam
    assert r.exit_code == 0, r.stderr
    assert [g["fused"] for g in adam_groups(tmp_path / "split" / "last.safetensors")] == [None, None]
    loop = state_tensors(tmp_path / "loop" / "last.safetensors")
    assert same(loop, state_tensors(tmp_path / "split" / "last.safetensors"))

    # the fused run of the same recipe: the same update rounded differently, so close but not equal (which is also
    # why the resume above must have run the loop); a kernel that paired the wrong elements would be far off
    assert train(image_dir, tmp_path / "fused", "--max-steps", "6", "--device", "cpu").exit_code == 0
    fused = state_tensors(tmp_path / "fused" / "last.safetensors")
    assert not same(loop, fused)
    assert all(torch.allclose(loop[k], fused[k], rtol=1e-3, atol=1e-5) for k in loop if k.startswith(("G.", "D.")))


def test_adam_built_for_a_resume_takes_the_saved_kernel() -> None:
    """Built from an old state (fused null), Adam is the loop through and through: GradScaler then unscales the
    gradients itself instead of handing the step a scale the loop refuses (a float16 resume would crash)."""
    from dcgan_cli.training.recipe import Recipe
    from dcgan_cli.training.setup import adam

    net, cpu = torch.nn.Linear(3, 2), torch.device("cpu")
    old = torch.optim.Adam(net.parameters()).state_dict()  # "fused": None, as before the fused default
    assert adam(net, 1e-3, Recipe(), cpu).defaults["fused"] is True  # a new run
    assert adam(net, 1e-3, Recipe(), cpu, adam(net, 1e-3, Recipe(), cpu).state_dict()).defaults["fused"] is True
    for opt in (adam(net, 1e-3, Recipe(), cpu, old), torch.optim.Adam(net.parameters(), fused=True)):
        opt.load_state_dict(old)
        scaler = torch.amp.GradScaler("cpu")
        scaler.scale(net(torch.ones(4, 3)).sum()).backward()
        if opt.defaults["fused"]:  # negative control: built fused, then loaded as the loop, as before this fix
            with pytest.raises(AssertionError):
                scaler.step(opt)
        else:
            scaler.step(opt)
