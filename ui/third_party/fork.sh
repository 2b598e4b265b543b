#!/usr/bin/env bash
# fork.sh MODULE VERSION DEST PATCH [PATH...]: remakes DEST as MODULE at
# VERSION from the Go module proxy, without its tests, test data and the
# given PATHs (tools, examples, images), with PATCH applied. The patched
# forks keep each local change one reviewable file; CI remakes them and
# fails when the tree differs (.ci/test). Needs go and patch.
set -euo pipefail
module=$1 version=$2 dest=$3 patchfile=$(cd "$(dirname "$4")" && pwd)/$(basename "$4")
shift 4
src=$(go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "fork.sh: download of $module@$version failed" >&2; exit 1; }
rm -rf "$dest"
cp -r "$src" "$dest"
chmod -R u+w "$dest"
cd "$dest"
find . -name '*_test.go' -delete
find . -type d -name testdata -prune -exec rm -rf {} +
for p in "$@"; do rm -rf "$p"; done
patch -p1 --no-backup-if-mismatch < "$patchfile"
echo "$dest: $module $version with $(basename "$patchfile")"
