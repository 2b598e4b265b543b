#!/usr/bin/env bash
# Remakes app/acceptform/third_party/gopdf: signintech/gopdf at the version below with
# app/acceptform/third_party/gopdf.patch (the ToUnicode map writes a character outside the
# BMP as its UTF-16 pair, so 𠮷 on the acceptance form is copied and
# searched as 𠮷). Run from anywhere; needs go and patch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "${FORK_SH:-$here/../../../ui/third_party/fork.sh}" github.com/signintech/gopdf v0.33.0 "$here/gopdf" "$here/gopdf.patch" examples test debug fontmaker/main.go .github
