#!/bin/sh
# Turns a Debian 12 system into the unified image of runit-rs. Runs as root
# INSIDE the target: from crates/dist/image/build (mmdebstrap's customize
# hook, through chroot) and on the Packer builder instance (the pkg
# helper's template, crates/dist/aws/), so the two cannot drift.
#
#   provision.sh --init runit|systemd STAGE_DIR
#
# STAGE_DIR is made by crates/dist/image/stage: the runit-rs .deb,
# sv-templates/, bin/sample-web and bin/sample-worker, boot.toml, runit/
# (the stage scripts), packages, and this script.
#
# What it does (docs/image.md):
#   * installs the packages listed in STAGE_DIR/packages that are missing,
#     with no recommends and without starting their services, and without
#     PostgreSQL's default cluster;
#   * installs the runit-rs .deb (the runit-rs programs, and the units on a
#     systemd host);
#   * the catalogue at /usr/share/boot/sv-templates, /etc/boot/boot.toml,
#     the sample apps in /usr/bin beside boot (boot's {bin});
#   * disables Debian's postgresql and redis-server units and init scripts:
#     boot starts its own instances;
#   * runit flavour: /etc/runit/1, 2, 3, ctrlaltdel and /sbin/init ->
#     runit-init; systemd flavour: systemd-networkd for the network, unless
#     ifupdown, netplan or NetworkManager manage it already (Debian's AMI);
#   * leaves a box that has never booted: no boot state, no machine id, no
#     apt lists.
#
# Exit status: 0 done, 2 bad usage or an incomplete STAGE_DIR (nothing
# changed), 1 a step failed.
set -eu
me=provision.sh
die() {
    printf '%s: fatal: %s\n' "$me" "$*" >&2
    exit 1
}
usage() {
    printf '%s: %s\nusage: provision.sh --init runit|systemd STAGE_DIR\n' "$me" "$*" >&2
    exit 2
}

init=
stage=
while [ $# -gt 0 ]; do
    case $1 in
    --init)
        [ $# -ge 2 ] || usage "--init needs a value"
        init=$2
        shift 2
        ;;
    --init=*)
        init=${1#*=}
        shift
        ;;
    -*) usage "unknown option $1" ;;
    *)
        [ -z "$stage" ] || usage "one STAGE_DIR only"
        stage=$1
        shift
        ;;
    esac
done
case $init in
runit | systemd) ;;
'') usage "--init is required" ;;
*) usage "--init: expected runit or systemd, got '$init'" ;;
esac
[ -n "$stage" ] || usage "STAGE_DIR is required"
[ "$(id -u)" = 0 ] || usage "must run as root"
stage=$(cd "$stage" 2>/dev/null && pwd) || usage "no such directory: $stage"
set -- "$stage"/runit-rs_*.deb
[ $# = 1 ] && [ -f "$1" ] || usage "$stage must hold exactly one runit-rs_*.deb"
deb=$1
for f in sv-templates/tags.toml bin/sample-web bin/sample-worker boot.toml \
    runit/1 runit/2 runit/3 runit/ctrlaltdel packages; do
    [ -e "$stage/$f" ] || usage "$stage is incomplete: $f is missing (made by crates/dist/image/stage?)"
done
export DEBIAN_FRONTEND=noninteractive
say() { printf '%s: %s\n' "$me" "$*"; }

# --- packages -----------------------------------------------------------
wanted=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$stage/packages" | awk -v f="$init" '
    /^[a-z]+:/ { split($0, a, ":"); if (a[1] != f) next; sub(/^[a-z]+:[[:space:]]*/, "") }
    NF { print $1 }')
missing=
for p in $wanted; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
        missing="$missing $p"
    fi
done
# No default cluster: boot initialises its own data directory.
mkdir -p /etc/postgresql-common/createcluster.d
printf '# runit-rs image: boot runs PostgreSQL with its own data directory.\ncreate_main_cluster = false\n' \
    >/etc/postgresql-common/createcluster.d/50-runit-rs.conf
if [ -n "$missing" ]; then
    say "installing:$missing"
    # Keep the packages' services from starting while they are installed
    # (a live Packer builder runs systemd).
    prc=/usr/sbin/policy-rc.d
    had_prc=0
    [ -e "$prc" ] && had_prc=1
    if [ "$had_prc" = 0 ]; then
        printf '#!/bin/sh\nexit 101\n' >"$prc"
        chmod 755 "$prc"
        trap 'rm -f "$prc"' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
    if [ "$had_prc" = 0 ]; then
        rm -f "$prc"
        trap - EXIT
    fi
fi

# --- runit-rs -------------------------------------------------------------
say "installing $(basename "$deb")"
dpkg -i "$deb" >/dev/null || die "dpkg -i $deb failed"
[ -x /usr/bin/boot ] || die "the .deb did not install /usr/bin/boot"
install -d -m 0755 /usr/share/boot /etc/boot
rm -rf /usr/share/boot/sv-templates.new
cp -R "$stage/sv-templates" /usr/share/boot/sv-templates.new
chown -R 0:0 /usr/share/boot/sv-templates.new
find /usr/share/boot/sv-templates.new -type d -exec chmod 0755 {} +
find /usr/share/boot/sv-templates.new -type f -exec chmod 0644 {} +
rm -rf /usr/share/boot/sv-templates
mv /usr/share/boot/sv-templates.new /usr/share/boot/sv-templates
install -m 0644 -o 0 -g 0 "$stage/boot.toml" /etc/boot/boot.toml
# boot's {bin} is the directory of the boot program: the sample apps go
# beside it.
install -m 0755 -o 0 -g 0 "$stage/bin/sample-web" "$stage/bin/sample-worker" /usr/bin/

# --- Debian's own services off: boot runs its own instances ---------------
for unit in postgresql.service redis-server.service; do
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable "$unit" >/dev/null 2>&1 || true
    fi
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
    fi
done
for script in postgresql redis-server; do
    if [ -e "/etc/init.d/$script" ]; then
        update-rc.d "$script" disable >/dev/null 2>&1 || true
    fi
done
# Nothing may remain that starts them at boot.
for l in /etc/systemd/system/multi-user.target.wants/postgresql.service \
    /etc/systemd/system/multi-user.target.wants/redis-server.service; do
    [ ! -e "$l" ] && [ ! -L "$l" ] || die "$l is still enabled"
done
if ls /etc/rc[2345].d/S*postgresql /etc/rc[2345].d/S*redis-server >/dev/null 2>&1; then
    die "a SysV start link of postgresql or redis-server is still there"
fi

# --- the flavour ----------------------------------------------------------
case $init in
runit)
    install -d -m 0755 /etc/runit
    for s in 1 2 3 ctrlaltdel; do
        install -m 0755 -o 0 -g 0 "$stage/runit/$s" "/etc/runit/$s"
    done
    # runit-init as process 1 execs /sbin/runit (our runit, from the .deb).
    [ -x /usr/sbin/runit ] || die "the .deb did not install /usr/sbin/runit"
    ln -sfn runit-init /usr/sbin/init
    if [ -d /etc/network ]; then
        cat >/etc/network/interfaces <<'EON'
# runit-rs image (runit flavour): stage 1 runs `ifup -a`.
auto lo
iface lo inet loopback

allow-hotplug eth0
iface eth0 inet dhcp

allow-hotplug ens5
iface ens5 inet dhcp
EON
    fi
    ;;
systemd)
    [ -x /usr/lib/systemd/systemd ] || [ -x /lib/systemd/systemd ] || die "systemd is not installed"
    # The network: left alone where something already manages it (Debian's
    # AMI: ifupdown or netplan with cloud-init); else systemd-networkd.
    if [ -x /usr/sbin/ifup ] || [ -d /etc/netplan ] || [ -x /usr/sbin/NetworkManager ]; then
        say "the network is managed already (ifupdown, netplan or NetworkManager): systemd-networkd left as it is"
    else
        install -d -m 0755 /etc/systemd/network
        cat >/etc/systemd/network/80-runit-rs-dhcp.network <<'EON'
# runit-rs image (systemd flavour): DHCP on the instance's interface.
[Match]
Name=en* eth*

[Network]
DHCP=yes
EON
        systemctl enable systemd-networkd.service >/dev/null 2>&1 || die "cannot enable systemd-networkd"
    fi
    ;;
esac

# --- a box that has never booted ------------------------------------------
if [ -e /var/lib/boot/state.json ] || [ -e /var/lib/boot/current ]; then
    die "/var/lib/boot holds an applied role: run 'boot down' before imaging"
fi
rm -rf /var/lib/boot/sv /var/lib/boot/sets /run/boot
if [ -e /etc/machine-id ]; then
    : >/etc/machine-id
fi
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* 2>/dev/null || true
printf 'flavour=%s\nrunit_rs=%s\n' "$init" "$(dpkg-query -W -f='${Version}' runit-rs)" >/etc/runit-rs-image
say "provisioned the $init flavour"
