#!/usr/bin/env bash
# Two training processes on one machine's CPU (gloo), launched by PyTorch's own torchrun. CI runs this file.
#
#   bash examples/torchrun_cpu.sh [WORK_DIR]
#
# --batch-size is per process: 2 processes x 32 = a global batch of 64. Only rank 0 prints and writes files.
# The tiny settings keep it to seconds; drop them for a real run.
set -euo pipefail
work=${1:-$(mktemp -d)}
data=${DATA:-$(dirname "$0")/fashion-mnist}

OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node 2 -m dcgan_cli train "$data" --out "$work/run" \
  --image-size 16 --ngf 8 --ndf 8 --batch-size 32 --max-steps 3 --json | jq -c 'select(.event == "start" or .event == "end") | {event, world_size, global_batch, step, weights_in_sync}'

# The checkpoint holds plain (unwrapped) weights: one process can continue it, and so could 4.
dcgan train "$data" --out "$work/run" --max-steps 4 --resume -q
dcgan inspect "$work/run" --json | jq -c '{step, config}'
