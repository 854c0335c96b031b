#!/bin/sh
# The demo project's build: per-platform tarballs, plain binaries and per-arch image tarballs under _output/,
# in krel's layout. Reproducible: fixed mtimes and owners, gzip without names or timestamps.
set -eu
VERSION=${KREL_VERSION:?KREL_VERSION is set by krel stage}
ARCHES=${DEMO_ARCHES:-"amd64 arm64"}
OUT=_output
rm -rf "$OUT"
mkdir -p "$OUT/release-tars"

pack() {  # pack <tarball> <dir> <entries...>
  out=$1; dir=$2; shift 2
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf - "$@" | gzip -9n > "$out"
}

for arch in $ARCHES; do
  bin="$OUT/bin/linux/$arch"
  mkdir -p "$bin"
  for tool in demo-server democtl; do
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@TOOL@/$tool/" cmd/tool.sh.in > "$bin/$tool"
    chmod 755 "$bin/$tool"
  done
  touch -d @0 "$bin"/*
  pack "$OUT/release-tars/demo-client-linux-$arch.tar.gz" "$bin" democtl
  pack "$OUT/release-tars/demo-server-linux-$arch.tar.gz" "$bin" demo-server democtl
  mkdir -p "$OUT/release-images/$arch"
  python3 make_image.py --arch "$arch" --version "$VERSION" --binary "$bin/demo-server" \
    --repo-tag "demo-server-$arch:$VERSION" "$OUT/release-images/$arch/demo-server.tar"
done
mkdir -p "$OUT/src"
git archive --format=tar --prefix=demo/ HEAD | gzip -9n > "$OUT/release-tars/demo-src.tar.gz"
printf '%s\n' "$VERSION" > "$OUT/src/version"
touch -d @0 "$OUT/src/version"
pack "$OUT/release-tars/demo.tar.gz" "$OUT/src" version
rm -rf "$OUT/src"
echo "built $VERSION for $ARCHES"
