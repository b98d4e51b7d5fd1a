#!/bin/sh
# Installs runit-rs under a prefix: the programs, chpst's daemontools names
# (symbolic links), the man pages, bash/zsh/fish completions and the docs.
# Run it after building, as the user who may write to the prefix:
#
#   cargo build --release --workspace --bins && sudo crates/dist/install.sh
#
# It builds nothing and needs only a POSIX shell and the usual file
# utilities, so root needs no Rust toolchain. Packagers: DESTDIR and PREFIX
# work as with `make install`. See docs/install.md (and `--help`).
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

programs_bin="chpst runsv runsvdir sv svlogd boot"
programs_sbin="runsvchdir runit runit-init"
chpst_names="envdir envuidgid pgrphack setlock setuidgid softlimit"

me=install.sh
say() { printf '%s\n' "$*"; }
note() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
    printf '%s: fatal: %s\n' "$me" "$*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
usage: crates/dist/install.sh [option ...]

Installs runit-rs's programs, chpst's daemontools names, man pages, shell
completions and docs. Every directory can also be given in the environment
under the same name in capitals (PREFIX, DESTDIR, BINDIR, ...).

  --prefix DIR               default /usr/local
  --destdir DIR              stage under DIR (for packages); default none
  --from DIR                 where the built programs are; default
                             ${CARGO_TARGET_DIR:-target}/release
  --bindir DIR               default PREFIX/bin
  --sbindir DIR              runit, runit-init, runsvchdir; default PREFIX/sbin
  --mandir DIR               default PREFIX/share/man
  --docdir DIR               default PREFIX/share/doc/runit-rs
  --bash-completion-dir DIR  default PREFIX/share/bash-completion/completions
  --zsh-completion-dir DIR   default PREFIX/share/zsh/site-functions
  --fish-completion-dir DIR  default PREFIX/share/fish/vendor_completions.d
  --chpst-links auto|yes|no  envdir, envuidgid, pgrphack, setlock, setuidgid,
                             softlimit as links to chpst. auto (default):
                             each name unless another program of that name
                             (daemontools) is in BINDIR or on PATH
  --no-man, --no-completions, --no-docs
                             leave those out
  --uninstall                remove what an install with the same options
                             put there
  --dry-run                  print what would be done, change nothing
  --help                     this text
EOF
}

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
FROM=${FROM:-}
BINDIR=${BINDIR:-}
SBINDIR=${SBINDIR:-}
MANDIR=${MANDIR:-}
DOCDIR=${DOCDIR:-}
BASH_COMPLETION_DIR=${BASH_COMPLETION_DIR:-}
ZSH_COMPLETION_DIR=${ZSH_COMPLETION_DIR:-}
FISH_COMPLETION_DIR=${FISH_COMPLETION_DIR:-}
CHPST_LINKS=${CHPST_LINKS:-auto}
with_man=1
with_completions=1
with_docs=1
mode=install
dry=0

while [ $# -gt 0 ]; do
    opt=$1
    shift
    inline=0
    case $opt in
    --*=*)
        val=${opt#*=}
        opt=${opt%%=*}
        inline=1
        ;;
    esac
    case $opt in
    --prefix | --destdir | --from | --bindir | --sbindir | --mandir | --docdir | \
        --bash-completion-dir | --zsh-completion-dir | --fish-completion-dir | --chpst-links)
        if [ "$inline" = 0 ]; then
            [ $# -gt 0 ] || die "option $opt needs a value"
            val=$1
            shift
        fi
        case $opt in
        --prefix) PREFIX=$val ;;
        --destdir) DESTDIR=$val ;;
        --from) FROM=$val ;;
        --bindir) BINDIR=$val ;;
        --sbindir) SBINDIR=$val ;;
        --mandir) MANDIR=$val ;;
        --docdir) DOCDIR=$val ;;
        --bash-completion-dir) BASH_COMPLETION_DIR=$val ;;
        --zsh-completion-dir) ZSH_COMPLETION_DIR=$val ;;
        --fish-completion-dir) FISH_COMPLETION_DIR=$val ;;
        --chpst-links) CHPST_LINKS=$val ;;
        esac
        ;;
    --no-man | --no-completions | --no-docs | --uninstall | --dry-run | --help)
        [ "$inline" = 0 ] || die "option $opt takes no value"
        case $opt in
        --no-man) with_man=0 ;;
        --no-completions) with_completions=0 ;;
        --no-docs) with_docs=0 ;;
        --uninstall) mode=uninstall ;;
        --dry-run) dry=1 ;;
        --help)
            usage
            exit 0
            ;;
        esac
        ;;
    *) die "unknown option: $opt (see --help)" ;;
    esac
done

case $CHPST_LINKS in
auto | yes | no) ;;
*) die "--chpst-links must be auto, yes or no, not: $CHPST_LINKS" ;;
esac
for d in "$PREFIX" "$BINDIR" "$SBINDIR" "$MANDIR" "$DOCDIR" "$BASH_COMPLETION_DIR" \
    "$ZSH_COMPLETION_DIR" "$FISH_COMPLETION_DIR"; do
    case $d in
    '' | /*) ;;
    *) die "directories must be absolute: $d" ;;
    esac
done

BINDIR=${BINDIR:-$PREFIX/bin}
SBINDIR=${SBINDIR:-$PREFIX/sbin}
MANDIR=${MANDIR:-$PREFIX/share/man}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/runit-rs}
BASH_COMPLETION_DIR=${BASH_COMPLETION_DIR:-$PREFIX/share/bash-completion/completions}
ZSH_COMPLETION_DIR=${ZSH_COMPLETION_DIR:-$PREFIX/share/zsh/site-functions}
FISH_COMPLETION_DIR=${FISH_COMPLETION_DIR:-$PREFIX/share/fish/vendor_completions.d}
if [ -z "$FROM" ]; then
    case ${CARGO_TARGET_DIR:-} in
    '') FROM=$top/target/release ;;
    /*) FROM=$CARGO_TARGET_DIR/release ;;
    *) FROM=$top/$CARGO_TARGET_DIR/release ;;
    esac
fi

man8=$MANDIR/man8
completions="$top/docs/completions"

# The temporary file of the copy in progress, removed if we are stopped.
tmp=
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT
trap 'exit 130' INT TERM HUP

# put MODE SRC DST: installs SRC as DST through a temporary file and a
# rename, so a running program (a live runsv) keeps its old file and
# nothing ever sees a half-written one.
put() {
    say "$3"
    [ "$dry" = 1 ] && return 0
    dst=$DESTDIR$3
    if [ -d "$dst" ] && [ ! -L "$dst" ]; then
        die "$dst is a directory"
    fi
    mkdir -p "${dst%/*}"
    tmp=${dst%/*}/.${dst##*/}.runit-rs.$$
    cp "$2" "$tmp"
    chmod "$1" "$tmp"
    mv -f "$tmp" "$dst"
    tmp=
}

# link TARGET NAME: makes NAME a symbolic link to TARGET (relative).
link() {
    say "$2 -> $1"
    [ "$dry" = 1 ] && return 0
    dst=$DESTDIR$2
    if [ -d "$dst" ] && [ ! -L "$dst" ]; then
        die "$dst is a directory"
    fi
    mkdir -p "${dst%/*}"
    tmp=${dst%/*}/.${dst##*/}.runit-rs.$$
    rm -f "$tmp"
    ln -s "$1" "$tmp"
    mv -f "$tmp" "$dst"
    tmp=
}

# remove PATH: removes an installed file or link.
remove() {
    if [ -e "$DESTDIR$1" ] || [ -L "$DESTDIR$1" ]; then
        say "removed $1"
        [ "$dry" = 1 ] || rm -f "$DESTDIR$1"
    fi
}

# remove_link TARGET PATH: removes PATH only if it is our link to TARGET.
remove_link() {
    if [ -L "$DESTDIR$2" ] && [ "$(readlink "$DESTDIR$2")" = "$1" ]; then
        remove "$2"
    fi
}

# ours_or_absent NAME: true if NAME may become a link to chpst: nothing of
# that name in BINDIR (or only our link), and, for a live install, none
# other on PATH (Debian's daemontools puts envdir, setlock, ... in
# /usr/bin; its setlock waits for the lock by default, ours does not).
ours_or_absent() {
    f=$DESTDIR$BINDIR/$1
    if [ -e "$f" ] || [ -L "$f" ]; then
        [ -L "$f" ] && [ "$(readlink "$f")" = chpst ] && return 0
        note "not linking $1: $BINDIR/$1 is not runit-rs's (--chpst-links yes replaces it)"
        return 1
    fi
    [ -z "$DESTDIR" ] || return 0
    old_ifs=$IFS
    IFS=:
    for p in $PATH; do
        if [ -z "$p" ] || [ "$p" = "$BINDIR" ]; then
            continue
        fi
        if [ -x "$p/$1" ] && [ ! -d "$p/$1" ]; then
            case $(readlink "$p/$1" 2>/dev/null || true) in
            chpst | */chpst) continue ;;
            esac
            IFS=$old_ifs
            note "not linking $1: $p/$1 is another program (--chpst-links yes installs it anyway)"
            return 1
        fi
    done
    IFS=$old_ifs
    return 0
}

# The chpst names to link (install) or unlink (uninstall).
links=
if [ "$CHPST_LINKS" != no ]; then
    for n in $chpst_names; do
        if [ "$mode" = uninstall ] || [ "$CHPST_LINKS" = yes ] || ours_or_absent "$n"; then
            links="$links $n"
        fi
    done
fi

if [ "$mode" = uninstall ]; then
    for p in $programs_bin; do remove "$BINDIR/$p"; done
    for p in $programs_sbin; do remove "$SBINDIR/$p"; done
    for n in $links; do remove_link chpst "$BINDIR/$n"; done
    for p in $programs_bin $programs_sbin; do
        remove "$man8/$p.8"
        remove "$BASH_COMPLETION_DIR/$p"
        remove "$ZSH_COMPLETION_DIR/_$p"
        remove "$FISH_COMPLETION_DIR/$p.fish"
    done
    for n in $links; do
        remove_link chpst.8 "$man8/$n.8"
        remove_link chpst "$BASH_COMPLETION_DIR/$n"
        remove_link chpst.fish "$FISH_COMPLETION_DIR/$n.fish"
    done
    for f in README.md LICENSE; do remove "$DOCDIR/$f"; done
    for f in "$top"/docs/*.md; do remove "$DOCDIR/docs/${f##*/}"; done
    if [ "$dry" = 0 ]; then
        for d in "$DOCDIR/docs" "$DOCDIR"; do
            if [ -d "$DESTDIR$d" ]; then rmdir "$DESTDIR$d" 2>/dev/null || true; fi
        done
    fi
    exit 0
fi

# Check everything first: a failed install leaves nothing half done.
missing=
for p in $programs_bin $programs_sbin; do
    [ -f "$FROM/$p" ] && [ -x "$FROM/$p" ] || missing="$missing $FROM/$p"
    if [ "$with_man" = 1 ]; then
        [ -f "$top/docs/man/$p.8" ] || missing="$missing docs/man/$p.8"
    fi
    if [ "$with_completions" = 1 ]; then
        for f in "bash/$p" "zsh/_$p" "fish/$p.fish"; do
            [ -f "$completions/$f" ] || missing="$missing docs/completions/$f"
        done
    fi
done
if [ -n "$missing" ]; then
    note "missing:$missing"
    die "build first (cargo build --release --workspace --bins) or give --from DIR"
fi

for p in $programs_bin; do put 755 "$FROM/$p" "$BINDIR/$p"; done
for p in $programs_sbin; do put 755 "$FROM/$p" "$SBINDIR/$p"; done
for n in $links; do link chpst "$BINDIR/$n"; done

if [ "$with_man" = 1 ]; then
    for p in $programs_bin $programs_sbin; do put 644 "$top/docs/man/$p.8" "$man8/$p.8"; done
    for n in $links; do link chpst.8 "$man8/$n.8"; done
fi

if [ "$with_completions" = 1 ]; then
    for p in $programs_bin $programs_sbin; do
        put 644 "$completions/bash/$p" "$BASH_COMPLETION_DIR/$p"
        put 644 "$completions/zsh/_$p" "$ZSH_COMPLETION_DIR/_$p"
        put 644 "$completions/fish/$p.fish" "$FISH_COMPLETION_DIR/$p.fish"
    done
    # bash and fish load completions by command name; the chpst files
    # handle every name. zsh's _chpst names them all in its #compdef line.
    for n in $links; do
        link chpst "$BASH_COMPLETION_DIR/$n"
        link chpst.fish "$FISH_COMPLETION_DIR/$n.fish"
    done
fi

# The pages keep their place relative to README.md, so its links work.
if [ "$with_docs" = 1 ]; then
    for f in README.md LICENSE; do put 644 "$top/$f" "$DOCDIR/$f"; done
    for f in "$top"/docs/*.md; do put 644 "$f" "$DOCDIR/docs/${f##*/}"; done
fi

[ "$dry" = 1 ] && exit 0
case $SBINDIR in
/sbin | /usr/sbin) ;;
*) note "runit-init runs /sbin/runit when it is process 1: link it there, or build with RUNIT_RS_BIN=$SBINDIR/runit" ;;
esac
exit 0
