#!/usr/bin/env bash
# Builds what can be built on this Linux machine into dist/ (make dist):
#
#   idlegrid-server   linux amd64, arm64           (pure Go)
#   idlegrid-agent    linux amd64, arm64           (cgo, reads NVIDIA GPUs via NVML)
#                     windows amd64 .exe           (signed when a certificate is given)
#   idlegridctl       linux, darwin, windows × amd64, arm64
#   idlegrid desktop  linux amd64 .tar.xz (fyne package) and .deb;
#                     windows amd64 .exe (cgo cross-compiled: clang for
#                     mingw-w64, linked by mingw's gcc)
#   SHA256SUMS
#
# Signing: IDLEGRID_SIGN_CERT (PEM certificate chain) and IDLEGRID_SIGN_KEY
# (PEM key) sign the Windows binaries with osslsigncode (Authenticode).
# macOS builds need a Mac (Xcode, signing, notarizing): see docs/INSTALL.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${DIST:-dist}"
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
rm -rf "$out"
mkdir -p "$out"
ldflags="-s -w -X main.version=$version"

build() { # GOOS GOARCH CGO NAME PKG [CC]
  local os=$1 arch=$2 cgo=$3 name=$4 pkg=$5 cc=${6:-}
  local file="$out/$name-$os-$arch"
  [ "$os" = windows ] && file="$file.exe"
  echo "dist: $file"
  if [ -n "$cc" ]; then
    CC="$cc" GOOS=$os GOARCH=$arch CGO_ENABLED=$cgo go build -trimpath -ldflags "$ldflags" -o "$file" "$pkg"
  else
    GOOS=$os GOARCH=$arch CGO_ENABLED=$cgo go build -trimpath -ldflags "$ldflags" -o "$file" "$pkg"
  fi
}

for arch in amd64 arm64; do
  build linux $arch 0 idlegrid-server ./cmd/idlegrid-server
done
build linux amd64 1 idlegrid-agent ./cmd/idlegrid-agent
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  build linux arm64 1 idlegrid-agent ./cmd/idlegrid-agent aarch64-linux-gnu-gcc
else
  echo "dist: no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu): the linux/arm64 agent is built without NVML" >&2
  build linux arm64 0 idlegrid-agent ./cmd/idlegrid-agent
fi
build windows amd64 0 idlegrid-agent ./cmd/idlegrid-agent
for os in linux darwin windows; do
  for arch in amd64 arm64; do
    build $os $arch 0 idlegridctl ./cmd/idlegridctl
  done
done

# The desktop app. fyne package reads FyneApp.toml; clang builds Fyne's
# cgo parts in a fraction of gcc's time.
appver="$(sed -n 's/^Version = "\(.*\)"/\1/p' FyneApp.toml)"
echo "dist: $out/idlegrid-desktop-linux-amd64.tar.xz"
CC=clang go tool fyne package -os linux --src cmd/idlegrid --release=false --icon "$PWD/assets/icon.png" --name Idlegrid \
  --app-id io.idlegrid.desktop --app-version "$appver" >/dev/null
mv Idlegrid.tar.xz "$out/idlegrid-desktop-linux-amd64.tar.xz"
# The .deb holds the same files under /usr, as Debian wants.
deb="$(mktemp -d)"
trap 'rm -rf "$deb"' EXIT
mkdir -p "$deb/root/DEBIAN"
tar -xJf "$out/idlegrid-desktop-linux-amd64.tar.xz" -C "$deb" usr
mv "$deb/usr/local" "$deb/root/usr"
cat > "$deb/root/DEBIAN/control" <<CONTROL
Package: idlegrid
Version: $appver
Section: net
Priority: optional
Architecture: amd64
Depends: libgl1, libx11-6, libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1
Maintainer: Idlegrid <hello@idlegrid.io>
Homepage: https://github.com/idlegrid/idlegrid
Description: Idlegrid supplier app
 Lends this PC's idle GPU to the Idlegrid network and earns for it; the PC
 is back the moment its owner plays. Live GPU temperature and power,
 benchmarks, earnings and payouts.
CONTROL
echo "dist: $out/idlegrid-desktop-linux-amd64.deb"
dpkg-deb --root-owner-group --build "$deb/root" "$out/idlegrid-desktop-linux-amd64.deb" >/dev/null
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
  echo "dist: $out/idlegrid-desktop-windows-amd64.exe"
  CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC="clang --target=x86_64-w64-mingw32" \
    go build -trimpath -ldflags "$ldflags -H=windowsgui -extld=x86_64-w64-mingw32-gcc" -o "$out/idlegrid-desktop-windows-amd64.exe" ./cmd/idlegrid
else
  echo "dist: no x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64): the Windows desktop app is not built" >&2
fi

if [ -n "${IDLEGRID_SIGN_CERT:-}" ]; then
  for exe in "$out"/*.exe; do
    echo "dist: signing $exe"
    osslsigncode sign -certs "$IDLEGRID_SIGN_CERT" -key "$IDLEGRID_SIGN_KEY" -n "Idlegrid" -i "https://github.com/idlegrid/idlegrid" \
      -h sha256 -in "$exe" -out "$exe.signed" >/dev/null
    mv "$exe.signed" "$exe"
  done
else
  echo "dist: Windows binaries are unsigned (set IDLEGRID_SIGN_CERT and IDLEGRID_SIGN_KEY to sign)" >&2
fi
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "dist: $(ls "$out" | wc -l) files in $out/ (version $version)"
