#!/bin/sh
# GPU check: fails unless nvidia-smi sees at least the expected number of GPUs
# of the expected product. The GpuNodePool check Job runs this file as
# `sh -c <this file>`; by hand, on a GPU machine:
#
#   sh scripts/gpu-check.sh A100 1
#   EXPECTED_GPU_PRODUCT='RTX 6000' EXPECTED_GPU_COUNT=1 sh scripts/gpu-check.sh
#
# The product matches case-insensitively, as whole words, anywhere in the
# name nvidia-smi prints: "A100" matches "NVIDIA A100-SXM4-80GB", "RTX 6000"
# matches "Quadro RTX 6000" and "NVIDIA RTX 6000 Ada Generation", but "A10"
# does not match an A100. Exit codes: 0 ok, 2 usage, 3 no nvidia-smi,
# 4 nvidia-smi failed, 5 too few GPUs, 6 wrong product.
set -eu

product="${1:-${EXPECTED_GPU_PRODUCT:-}}"
expected="${2:-${EXPECTED_GPU_COUNT:-}}"
if [ -z "$product" ] || [ -z "$expected" ]; then
  echo '[gpu-check] FAIL: usage: gpu-check.sh PRODUCT COUNT (or EXPECTED_GPU_PRODUCT and EXPECTED_GPU_COUNT)' >&2
  exit 2
fi
case "$expected" in
  *[!0-9]*) echo "[gpu-check] FAIL: the expected GPU count \"$expected\" is not a whole number" >&2; exit 2 ;;
esac

echo "[gpu-check] expecting at least $expected GPU(s) matching \"$product\" on node ${NODE_NAME:-(this machine)}"
echo '[gpu-check] looking for nvidia-smi'
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo '[gpu-check] FAIL: nvidia-smi is not on PATH: the NVIDIA container runtime did not inject the driver tools. Does the pod set runtimeClassName: nvidia, and is the NVIDIA container toolkit installed on the node (then restart k3s so that it finds it)?' >&2
  exit 3
fi

echo '[gpu-check] running nvidia-smi --query-gpu=name --format=csv,noheader'
if ! names=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1); then
  echo '[gpu-check] FAIL: nvidia-smi failed:' >&2
  printf '%s\n' "$names" >&2
  exit 4
fi
printf '%s\n' "$names" | while IFS= read -r line; do echo "[gpu-check]   $line"; done
# Without a GPU some nvidia-smi versions print this and still exit 0.
names=$(printf '%s\n' "$names" | grep -v -i -e '^No devices were found') || true

total=$(printf '%s\n' "$names" | grep -c .) || true
matching=$(printf '%s\n' "$names" | grep -c -i -w -F -e "$product") || true
echo "[gpu-check] $total GPU(s), $matching matching \"$product\""

if [ "$total" -lt "$expected" ]; then
  echo "[gpu-check] FAIL: too few GPUs: nvidia-smi sees $total, expected at least $expected (is the device plugin running on this node and advertising nvidia.com/gpu?)" >&2
  exit 5
fi
if [ "$matching" -lt "$expected" ]; then
  echo "[gpu-check] FAIL: wrong GPU product: $matching of $total GPU(s) match \"$product\", expected at least $expected (is this node in the right pool?)" >&2
  exit 6
fi
echo "[gpu-check] OK: $matching x \"$product\""
