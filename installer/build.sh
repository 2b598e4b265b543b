#!/usr/bin/env bash
# Builds the Windows release on Linux: certdesk.exe (GUI subsystem), its
# print-preview helper certdesk-preview.exe and certdesk-server.exe
# cross-compiled with mingw-w64, each with an icon and a version resource;
# certdesk-setup.exe made by NSIS; all of them signed with osslsigncode and
# verified.
#
#   bash installer/build.sh [OUTDIR]        (default dist/)
#
# Environment: VERSION (default 0.1.0); SIGN_PKCS12 and SIGN_PASS name a real
# code-signing certificate (a deployment's); without them a throwaway test
# certificate is made and the signatures verify against it only.
# TRIMPATH=1 strips build paths (release builds; a cold cache of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=$(realpath -m "${1:-dist}")
VERSION=${VERSION:-0.1.0}
mkdir -p "$OUT"
work=$(mktemp -d)
cleanup() { rm -rf "$work"; rm -f cmd/certdesk/rsrc_windows_amd64.syso cmd/certdesk-server/rsrc_windows_amd64.syso cmd/certdesk-preview/rsrc_windows_amd64.syso; }
trap cleanup EXIT

# The icon: 证 on CertDesk blue, drawn with the embedded CJK font.
convert -size 256x256 xc:none -fill '#1f6feb' -draw 'roundrectangle 8,8 248,248 44,44' \
  -font assets/fonts/NotoSansSC-CertDesk.otf -fill white -pointsize 160 -gravity center -annotate +0+6 '证' \
  -define icon:auto-resize=256,64,48,32,16 "$work/certdesk.ico"

IFS=. read -r v1 v2 v3 <<<"$VERSION"
resource() { # name description
  sed -e "s|@ICON@|$work/certdesk.ico|" -e "s|@VERSION@|$VERSION|g" -e "s|@V1@|${v1:-0}|g" -e "s|@V2@|${v2:-0}|g" \
      -e "s|@V3@|${v3:-0}|g" -e "s|@NAME@|$1|g" -e "s|@DESC@|$2|" installer/certdesk.rc.in >"$work/$1.rc"
  x86_64-w64-mingw32-windres -c 65001 -O coff -i "$work/$1.rc" -o "cmd/$1/rsrc_windows_amd64.syso"
}
resource certdesk "CertDesk 证书助手"
resource certdesk-server "CertDesk enrollment server"
resource certdesk-preview "CertDesk print preview"

flags=(-tags no_emoji)
[ "${TRIMPATH:-}" = 1 ] && flags+=(-trimpath)
win() { CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 go "$@"; }
win build "${flags[@]}" -ldflags "-s -w -H windowsgui -X main.version=$VERSION" -o "$work/certdesk.exe" ./cmd/certdesk
win build "${flags[@]}" -ldflags "-s -w -X main.version=$VERSION" -o "$work/certdesk-server.exe" ./cmd/certdesk-server
# The print preview's renderer runs in its own process (app/previewexec);
# GUI subsystem, so no console window flashes up.
win build "${flags[@]}" -ldflags "-s -w -H windowsgui" -o "$work/certdesk-preview.exe" ./cmd/certdesk-preview

# Signing.
if [ -n "${SIGN_PKCS12:-}" ]; then
  p12=$SIGN_PKCS12; pass=${SIGN_PASS:-}; ca_args=()
else
  openssl req -x509 -newkey rsa:3072 -sha256 -days 30 -nodes -keyout "$work/sign.key" -out "$work/sign.crt" \
    -subj "/CN=CertDesk Test Code Signing/O=CertDesk" -addext "extendedKeyUsage=codeSigning" \
    -addext "keyUsage=critical,digitalSignature" 2>/dev/null
  openssl pkcs12 -export -out "$work/sign.p12" -inkey "$work/sign.key" -in "$work/sign.crt" -passout pass:test
  p12=$work/sign.p12; pass=test; ca_args=(-CAfile "$work/sign.crt")
  cp "$work/sign.crt" "$OUT/test-code-signing.crt"
fi
sign() { # file
  osslsigncode sign -pkcs12 "$p12" -pass "$pass" -h sha256 -n "CertDesk 证书助手" -i "https://certdesk.example.cn/" \
    -in "$1" -out "$1.signed" >/dev/null
  mv "$1.signed" "$1"
}
verify() { # its exit status is the verdict (the wording differs between osslsigncode 2.5 and 2.9)
  osslsigncode verify "${ca_args[@]}" -in "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; echo "verify failed: $1" >&2; exit 1; }
}
sign "$work/certdesk.exe"
sign "$work/certdesk-server.exe"
sign "$work/certdesk-preview.exe"

makensis -V2 -DVERSION="$VERSION" -DSRC="$work" -DOUT="$OUT/certdesk-setup.exe" installer/certdesk.nsi
sign "$OUT/certdesk-setup.exe"
cp "$work/certdesk.exe" "$work/certdesk-server.exe" "$work/certdesk-preview.exe" "$OUT/"
for f in certdesk.exe certdesk-preview.exe certdesk-server.exe certdesk-setup.exe; do
  verify "$OUT/$f"
  printf '%-22s %6.1f MB  signed, verified\n' "$f" "$(awk -v b="$(stat -c %s "$OUT/$f")" 'BEGIN{print b/1048576}')"
done
