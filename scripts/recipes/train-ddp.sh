#!/bin/bash
# Multi-GPU (or multi-process CPU) training over an sc-register collection:
# each rank runs its own sc-stream share of every epoch.
# SPDX-License-Identifier: MIT
#
# Usage: train-ddp.sh MANIFEST CHECKPOINT [train.py options...]
#   NPROC=N        ranks on this machine [number of GPUs, else 2]
#   BACKEND=B      nccl (GPUs) or gloo (CPU) [nccl if a GPU is visible]
#   LAUNCHER=L     torchrun, or local (start the N processes here with RANK,
#                  LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set)
#                  [torchrun when it works, else local]
#   TRAIN=FILE     the training script [train.py beside this file]
#
# Copy and adapt: MANIFEST is what `sc-register collection export NAME@N`
# prints; sc-stream must be on PATH (or SC_STREAM=/path/to/sc-stream) and
# sc_stream.py importable (PYTHONPATH=$PREFIX/lib/sc/python, or a checkout).
# Every rank reads RANK/WORLD_SIZE, passes them to sc-stream (disjoint,
# equal shares: no rank waits at the end of an epoch), and rank 0 writes the
# checkpoint. Register it afterwards:
#   run=$(sc-register run start --tool train.py --input NAME@N)
#   sc-register run finish "$run" --output-file CHECKPOINT
#
# On a Slurm cluster, one task per GPU over several nodes:
#   srun --ntasks-per-node=4 --gpus-per-task=1 bash -c \
#     'RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID WORLD_SIZE=$SLURM_NTASKS \
#      MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -1) \
#      MASTER_PORT=29500 python3 train.py -m MANIFEST -o CHECKPOINT --backend nccl'
set -euo pipefail
if [[ $# -lt 2 ]]; then
    sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
manifest=$1 checkpoint=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
[[ -x $py ]] || py=python3
train=${TRAIN:-$here/train.py}

gpus=$("$py" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
nproc=${NPROC:-$((gpus > 0 ? gpus : 2))}
backend=${BACKEND:-$([[ $gpus -gt 0 ]] && echo nccl || echo gloo)}
# Debian 12's torch 1.13 ships a torchrun that fails at start under Python
# 3.11 (Std.from_str returns None); detect it and launch the ranks ourselves.
torchrun_works() {
    command -v torchrun > /dev/null &&
        "$py" -c 'from torch.distributed.elastic.multiprocessing.api import Std
import sys; sys.exit(Std.from_str("0") is None)' 2> /dev/null
}
launcher=${LAUNCHER:-$(torchrun_works && echo torchrun || echo local)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "train-ddp: $nproc ranks, backend $backend, launcher $launcher" >&2

case $launcher in
torchrun)
    exec torchrun --standalone --nproc_per_node "$nproc" \
        "$train" -m "$manifest" -o "$checkpoint" --backend "$backend" "$@"
    ;;
local)
    port=${MASTER_PORT:-$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    pids=()
    trap 'kill "${pids[@]}" 2> /dev/null' EXIT INT TERM
    for ((r = 0; r < nproc; r++)); do
        RANK=$r LOCAL_RANK=$r WORLD_SIZE=$nproc LOCAL_WORLD_SIZE=$nproc \
            MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=$port \
            "$py" "$train" -m "$manifest" -o "$checkpoint" --backend "$backend" "$@" &
        pids+=($!)
    done
    status=0
    for p in "${pids[@]}"; do
        wait "$p" || status=1
    done
    trap - EXIT INT TERM
    exit $status
    ;;
*)
    echo "train-ddp: unknown LAUNCHER '$launcher' (torchrun or local)" >&2
    exit 2
    ;;
esac
