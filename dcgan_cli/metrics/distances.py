"""Distances between two sets of image features: Fréchet distance, KID, precision/recall, density/coverage.

All in float64 torch (no scipy). Fréchet distance (Heusel et al. 2017) compares Gaussians fitted to the two sets;
it is biased upwards at small n, so compare it only at equal n. KID (Bińkowski et al. 2018) is the unbiased
polynomial-kernel MMD^2, averaged over random subsets, with its spread. Precision/recall (Kynkäänniemi et al.
2019) and density/coverage (Naeem et al. 2020) use k-nearest-neighbour balls and separate fidelity from
diversity: a collapsed generator keeps its precision and loses its recall and coverage.
"""

from __future__ import annotations

import torch

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
NEAREST_K = 5  # Naeem et al.'s k for density/coverage; also used for precision/recall
_CHUNK = 2048
_FULL_KERNEL = 4096  # three n x n float64 kernels: 400 MB at this n, 24 GB at 32,768


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(m)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2); tr of the root via the symmetric S_a^1/2 S_b S_a^1/2."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    value = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(value), 0.0)


def kid(a: torch.Tensor, b: torch.Tensor, seed: int = 0, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE) -> tuple[float, float]:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3: mean and standard deviation over random subsets.

    Subsets hold min(subset_size, half the smaller set) images, so their spread means something even when n is
    below subset_size (whole-set "subsets" would all give the same value). Up to _FULL_KERNEL images the three
    kernel matrices are computed once and indexed per subset (100 subsets then cost about one).
    """
    a, b = a.double(), b.double()
    m = min(subset_size, a.shape[0] // 2, b.shape[0] // 2)
    if m < 2:
        raise ValueError("KID needs at least four images in each set")
    d = a.shape[1]
    full = max(a.shape[0], b.shape[0]) <= _FULL_KERNEL

    def kernel(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p @ q.T / d + 1) ** 3

    if full:
        kaa, kbb, kab = kernel(a, a), kernel(b, b), kernel(a, b)
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        i = torch.randperm(a.shape[0], generator=gen)[:m]
        j = torch.randperm(b.shape[0], generator=gen)[:m]
        if full:
            kxx, kyy, kxy = kaa[i[:, None], i], kbb[j[:, None], j], kab[i[:, None], j]
        else:
            kxx, kyy, kxy = kernel(a[i], a[i]), kernel(b[j], b[j]), kernel(a[i], b[j])
        off = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        values.append(float(off - 2 * kxy.mean()))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if subsets > 1 else 0.0


def _kth_neighbour_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    radii = []
    for i in range(0, x.shape[0], _CHUNK):
        dist = torch.cdist(x[i : i + _CHUNK], x)
        radii.append(dist.kthvalue(k + 1, dim=1).values)  # +1: the row itself is at distance 0
    return torch.cat(radii)


def precision_recall_density_coverage(real: torch.Tensor, fake: torch.Tensor,
                                      k: int = NEAREST_K) -> dict[str, float]:
    """Fidelity (precision, density) and diversity (recall, coverage) from k-NN balls; 1 is ideal (density ~1)."""
    real, fake = real.double(), fake.double()
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"precision/recall needs more than {k} images in each set")
    r_real, r_fake = _kth_neighbour_radius(real, k), _kth_neighbour_radius(fake, k)
    fake_in_real = torch.zeros(fake.shape[0], dtype=torch.bool)  # fake j inside some real ball
    density_hits = torch.zeros((), dtype=torch.float64)
    real_covered = torch.zeros(real.shape[0], dtype=torch.bool)  # real i's ball holds some fake
    real_in_fake = torch.zeros(real.shape[0], dtype=torch.bool)  # real i inside some fake ball
    for i in range(0, real.shape[0], _CHUNK):
        dist = torch.cdist(real[i : i + _CHUNK], fake)  # (real chunk, fake)
        inside = dist <= r_real[i : i + _CHUNK, None]
        fake_in_real |= inside.any(0)
        density_hits += inside.sum()
        real_covered[i : i + _CHUNK] = inside.any(1)
        real_in_fake[i : i + _CHUNK] = (dist <= r_fake[None, :]).any(1)
    return {
        "precision": float(fake_in_real.double().mean()),
        "recall": float(real_in_fake.double().mean()),
        "density": float(density_hits / (k * fake.shape[0])),
        "coverage": float(real_covered.double().mean()),
    }
