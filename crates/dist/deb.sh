#!/bin/sh
# Builds the Debian package runit-rs from the workspace with nothing but
# cargo and dpkg-deb (cargo-deb reads the same metadata, see Cargo.toml):
#
#   crates/dist/deb.sh            -> target/debian/runit-rs_<version>-<rev>_<arch>.deb
#
# The programs are built with Debian's defaults compiled in: sv's service
# directory /etc/service/ (RUNIT_SV_DIR) and runit-init's /usr/sbin/runit
# (RUNIT_RS_BIN). The files are staged by install.sh with Debian's paths.
# See docs/packaging.md.
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=deb.sh
die() {
    printf '%s: fatal: %s\n' "$me" "$*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
usage: crates/dist/deb.sh [--no-build] [--from DIR] [--out DIR] [-Z TYPE]

  --no-build   do not run cargo; take the programs from --from
  --from DIR   where the built programs are; default
               ${CARGO_TARGET_DIR:-target}/release
  --out DIR    where the .deb goes; default ${CARGO_TARGET_DIR:-target}/debian
  -Z TYPE      dpkg-deb's compression: xz (default), gzip, zstd or none

Environment: RUNIT_SV_DIR (default /etc/service/) and RUNIT_RS_BIN
(default /usr/sbin/runit) are compiled into the programs when building.
EOF
}

build=1
from=
out=
compression=xz
while [ $# -gt 0 ]; do
    opt=$1
    shift
    case $opt in
    --no-build) build=0 ;;
    --from | --out | -Z)
        [ $# -gt 0 ] || die "option $opt needs a value"
        case $opt in
        --from) from=$1 ;;
        --out) out=$1 ;;
        -Z) compression=$1 ;;
        esac
        shift
        ;;
    --from=*) from=${opt#*=} ;;
    --out=*) out=${opt#*=} ;;
    --help)
        usage
        exit 0
        ;;
    *) die "unknown option: $opt (see --help)" ;;
    esac
done

case ${CARGO_TARGET_DIR:-} in
'') target=$top/target ;;
/*) target=$CARGO_TARGET_DIR ;;
*) target=$top/$CARGO_TARGET_DIR ;;
esac
from=${from:-$target/release}
out=${out:-$target/debian}
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (apt-get install dpkg)"

manifest=$here/Cargo.toml
# field KEY: the string value of KEY in the [package.metadata.deb] table.
field() {
    awk -v key="$1" '
        /^\[/ { inside = ($0 == "[package.metadata.deb]") }
        inside && $1 == key && $2 == "=" {
            sub(/^[^=]*= *"/, ""); sub(/" *$/, ""); print; exit
        }' "$manifest"
}
# The summary is the [package] description; the version the workspace's.
summary=$(awk '/^\[/ { inside = ($0 == "[package]") }
    inside && $1 == "description" { sub(/^[^=]*= *"/, ""); sub(/" *$/, ""); print; exit }' "$manifest")
version=$(awk '/^\[/ { inside = ($0 == "[workspace.package]") }
    inside && $1 == "version" { sub(/^[^=]*= *"/, ""); sub(/" *$/, ""); print; exit }' "$top/Cargo.toml")
name=$(field name)
revision=$(field revision)
if [ -z "$summary" ] || [ -z "$name" ] || [ -z "$revision" ]; then
    die "incomplete metadata in $manifest"
fi
[ -n "$version" ] || die "no [workspace.package] version in $top/Cargo.toml"

if [ "$build" = 1 ]; then
    RUNIT_SV_DIR=${RUNIT_SV_DIR:-/etc/service/} RUNIT_RS_BIN=${RUNIT_RS_BIN:-/usr/sbin/runit} \
        cargo build --release --manifest-path "$top/Cargo.toml" \
        -p chpst -p runsv -p runsvdir -p sv -p svlogd -p runit -p boot
fi

arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/runit-rs-deb.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage" "$stage.shlibdeps"' EXIT
trap 'exit 130' INT TERM HUP

"$here/install.sh" --destdir "$stage" --prefix /usr --sbindir /usr/sbin \
    --zsh-completion-dir /usr/share/zsh/vendor-completions \
    --from "$from" --chpst-links no --no-docs >/dev/null

doc=$stage/usr/share/doc/$name
mkdir -p "$doc/docs"
cp "$top/README.md" "$doc/"
cp "$top"/docs/*.md "$doc/docs/"
{
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
    printf 'Upstream-Name: runit-rs\n\n'
    printf 'Files: *\nCopyright: %s\nLicense: BSD-3-Clause\n' "$(field copyright)"
    sed -e 's/^$/./' -e 's/^/ /' "$top/LICENSE"
} >"$doc/copyright"
gzip -9nc "$here/debian/changelog" >"$doc/changelog.Debian.gz"
# Debian policy: man pages compressed with gzip -9n (no name, no time).
for f in "$stage"/usr/share/man/man8/*.8; do
    gzip -9n "$f"
done

# Debian policy: programs stripped (as dh_strip does; release builds
# already are, debug builds are not).
if command -v strip >/dev/null 2>&1; then
    for f in "$stage"/usr/bin/* "$stage"/usr/sbin/*; do
        strip --remove-section=.comment --strip-unneeded "$f"
    done
fi

# The systemd units (docs/packaging.md#systemd); enabled by the postinst.
mkdir -p "$stage/usr/lib/systemd/system"
for f in "$here"/systemd/*.service; do
    install -m 644 "$f" "$stage/usr/lib/systemd/system/"
done

mkdir -p "$stage/DEBIAN"
for f in postinst prerm postrm; do
    install -m 755 "$here/debian/$f" "$stage/DEBIAN/$f"
done

depends=libc6
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    # dpkg-shlibdeps wants a debian/control beside it.
    mkdir -p "$stage.shlibdeps/debian"
    printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" \
        >"$stage.shlibdeps/debian/control"
    if found=$(cd "$stage.shlibdeps" && dpkg-shlibdeps -O "$stage"/usr/bin/* "$stage"/usr/sbin/* 2>/dev/null); then
        found=${found#shlibs:Depends=}
        [ -z "$found" ] || depends=$found
    fi
    rm -rf "$stage.shlibdeps"
fi

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)

{
    printf 'Package: %s\n' "$name"
    printf 'Version: %s-%s\n' "$version" "$revision"
    printf 'Architecture: %s\n' "$arch"
    printf 'Maintainer: %s\n' "$(field maintainer)"
    printf 'Installed-Size: %s\n' "$size"
    printf 'Depends: %s\n' "$depends"
    printf 'Conflicts: %s\n' "$(field conflicts)"
    printf 'Replaces: %s\n' "$(field replaces)"
    printf 'Section: %s\n' "$(field section)"
    printf 'Priority: %s\n' "$(field priority)"
    printf 'Description: %s\n' "$summary"
    sed -e 's/^$/./' -e 's/^/ /' "$here/debian/description"
} >"$stage/DEBIAN/control"

mkdir -p "$out"
deb=$out/${name}_${version}-${revision}_${arch}.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
printf '%s\n' "$deb"
