#!/bin/sh
# Installs the PyTorch anchor of `fsrgan bench train --vs torch` (docs/engine.md): Debian's python3-torch, run
# by /usr/bin/python3, with the pthread OpenBLAS (the reference BLAS makes ConvTranspose2d 5x slower).
# Idempotent: does nothing when both are present. Needs root or sudo, and apt access.
set -e
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  exit 0
fi
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "bench/setup-torch.sh: installing python3-torch and libopenblas0-pthread with apt-get" >&2
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)' >&2
