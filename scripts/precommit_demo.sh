#!/usr/bin/env bash
# The real pre-commit tool, pointed at this repository's hook, in a throwaway git
# repository: a commit of a buggy VAE is blocked, a clean one goes through.
# Installs pre-commit into a scratch venv and builds the hook's environment
# (which installs torch), so it is a script, not part of the test suite.
#   bash scripts/precommit_demo.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pre-commit
# the hook's environment takes torch from the CPU wheel, not a multi-GB CUDA build
echo "torch==2.13.0" > "$work/constraints.txt"
export PIP_CONSTRAINT="$work/constraints.txt"

rev="$(git -C "$here" rev-parse HEAD)"
repo="$work/models"
mkdir -p "$repo/models"
cd "$repo"
git init -q
git config user.email demo@example.invalid
git config user.name demo
cat > .pre-commit-config.yaml <<YAML
repos:
  - repo: $here
    rev: $rev
    hooks:
      - id: vaelint
YAML
cat > pyproject.toml <<'TOML'
[tool.vaelint]
[[tool.vaelint.targets]]
target = "models/vae.py:VAE"
input = ["8x784"]
TOML
"$work/venv/bin/pre-commit" install

cp "$here/fixtures/buggy/recon_broadcast_mse.py" models/vae.py
git add -A
if git commit -qm "a buggy VAE"; then
  echo "FAIL: the commit of the buggy VAE went through"; exit 1
fi
echo "ok: the commit of the buggy VAE was blocked"

cp "$here/fixtures/clean/mlp_vae.py" models/vae.py
git add -A
git commit -qm "a clean VAE"
echo "ok: the clean VAE was committed: $(git log --oneline | head -1)"
