#!/usr/bin/env bash
# Remakes ui/third_party/fyne: Fyne at the version below, from the Go module
# proxy, without its tests, test data, command-line tools and README images,
# with ui/third_party/fyne.patch applied. Run from anywhere; needs go and patch.
# To move to a newer Fyne: change the version, run this, fix the patch if it
# no longer applies, and measure idle memory again (README, Performance).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "${FORK_SH:-$here/fork.sh}" fyne.io/fyne/v2 v2.7.1 "$here/fyne" "$here/fyne.patch" cmd img tools .github
