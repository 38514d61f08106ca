#!/usr/bin/env bash
# Shell recipes for dcgan in pipelines. CI runs this file (tests/test_examples.py) on a tiny run.
#
#   bash examples/pipelines.sh [WORK_DIR]
#
# It trains a deliberately tiny model for 2 steps on the bundled Fashion-MNIST images so it finishes in
# seconds; point the commands at your own run folder for real use.
set -euo pipefail
work=${1:-$(mktemp -d)}
data=${DATA:-$(dirname "$0")/fashion-mnist}

# A run to play with (tiny on purpose). --json streams events; jq picks the final checkpoint path.
ckpt=$(dcgan train "$data" --out "$work/run" --image-size 16 --ngf 8 --ndf 8 --batch-size 32 --max-steps 2 \
         --json -q | jq -r 'select(.event == "end") | .checkpoint')
echo "trained: $ckpt"

# 1. 100 samples into a folder, one PNG per seed plus manifest.json; count the files.
dcgan sample "$work/run" --n 100 --seed 0 -o "$work/samples/" -q
count=$(find "$work/samples" -name 'seed*.png' | wc -l)
[ "$count" -eq 100 ] || { echo "expected 100 samples, got $count" >&2; exit 1; }
echo "sampled: $count files"

# 2. The facts of a checkpoint, as JSON, into jq.
step=$(dcgan inspect "$ckpt" --json | jq '.step')
[ "$step" -eq 2 ] || { echo "expected step 2, got $step" >&2; exit 1; }
dcgan inspect "$ckpt" --json | jq -c '{step, config, params: .parameters}'

# 3. One image as PNG bytes on stdout, through a pipe; seed 7 is the same image as in the folder above.
dcgan sample "$work/run" --seeds 7 -o - | cmp - "$work/samples/seed0007.png"
echo "seed 7 via stdout matches the folder"

# 4. A looping walk through three seeds, as an animated GIF.
dcgan interpolate "$work/run" 3 14 15 --steps 8 --loop -o "$work/walk.gif" --json | jq -c '{frames, keyframes, files}'

# 5. How good is it? SWD against 64 real images (no network; add fd,kid,prdc with the `metrics` extra).
swd=$(dcgan evaluate "$work/run" "$data" --n 64 --metrics swd --json | jq '.swd.mean')
echo "SWD x1e3 against 64 real images: $swd"
