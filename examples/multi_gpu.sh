#!/usr/bin/env bash
# Training on several GPUs with torchrun (documentation; needs CUDA GPUs, so CI does not run it).
#
# One machine, all its GPUs: one process per GPU, NCCL, --batch-size per process (8 GPUs x 128 = 1,024 a step).
torchrun --standalone --nproc-per-node gpu -m dcgan_cli train ./photos --out runs/photos --batch-size 128 --amp

# The installed console script works too (torchrun runs it directly):
#   torchrun --standalone --nproc-per-node gpu --no-python dcgan train ./photos --out runs/photos
# accelerate passes through to the same machinery:
#   accelerate launch --multi_gpu --num_processes 8 -m dcgan_cli train ./photos --out runs/photos
#
# Two machines with 8 GPUs each. Run on BOTH machines, with NODE_RANK=0 on the first and 1 on the second;
# MASTER is the first machine's address, reachable from the second:
#   torchrun --nnodes 2 --node-rank "$NODE_RANK" --nproc-per-node 8 \
#            --rdzv-backend c10d --rdzv-endpoint "$MASTER:29500" --rdzv-id photos \
#            -m dcgan_cli train ./photos --out runs/photos --batch-size 128 --amp
# The run folder must be on storage both machines see only if you want to resume on another machine: only the
# global rank 0 writes it. BatchNorm statistics are per process by default; --sync-bn synchronises them.
