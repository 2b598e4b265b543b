#!/usr/bin/env bash
# Remakes ui/third_party/fyne: Fyne at the version below, from the Go module
# proxy, without its tests, test data, command-line tools and README images,
# with ui/third_party/fyne.patch applied. Run from anywhere; needs go and patch.
# To move to a newer Fyne: change the version, run this, fix the patch if it
# no longer applies, and measure idle memory again (README, Performance).
set -euo pipefail
version=v2.7.1
here="$(cd "$(dirname "$0")" && pwd)"
src=$(go mod download -json "fyne.io/fyne/v2@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update-fyne: module download failed" >&2; exit 1; }
rm -rf "$here/fyne"
cp -r "$src" "$here/fyne"
chmod -R u+w "$here/fyne"
cd "$here/fyne"
find . -name '*_test.go' -delete
find . -type d -name testdata -prune -exec rm -rf {} +
rm -rf cmd img tools .github
patch -p1 --no-backup-if-mismatch < "$here/fyne.patch"
echo "ui/third_party/fyne: Fyne $version with fyne.patch"
