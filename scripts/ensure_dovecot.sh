#!/usr/bin/env bash
# Make sure the Dovecot binaries the IMAP tests drive (dovecot, doveadm) and openssl exist.
#
# Why a script: the test suite starts its own throwaway Dovecot from a generated config
# (tests/imap_server.py) and must fail, not skip, when Dovecot is absent; this is the one
# step a fresh Debian/Ubuntu machine or CI image needs before `python3 scripts/dev.py test`.
#
# Idempotent: does nothing when everything is already installed. When it installs Dovecot it
# stops and disables the system service the package may have started, because the tests
# never use it and a system instance would hold ports 143/993 on a developer's machine.
set -euo pipefail

say() { printf 'ensure_dovecot: %s\n' "$*"; }
die() {
    printf 'ensure_dovecot: ERROR: %s\n' "$*" >&2
    exit 1
}

# dovecot and doveadm live in /usr/sbin, which a non-root PATH often lacks.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

packages=()
if command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1; then
    say "dovecot already installed: $(dovecot --version 2>/dev/null || echo 'version unknown')"
else
    packages+=(dovecot-imapd)
fi
if ! command -v openssl >/dev/null 2>&1; then
    packages+=(openssl)
fi
if [ "${#packages[@]}" -eq 0 ]; then
    exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
    die "missing ${packages[*]} and apt-get is not available; install Dovecot 2.3 (imapd) and openssl with this system's package manager"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
    say "not root: using sudo for apt-get"
else
    die "missing ${packages[*]}; installing needs root (run this script as root or install sudo)"
fi

say "installing ${packages[*]} with apt-get"
"${as_root[@]}" apt-get update -q ||
    die "apt-get update failed (network or apt sources?)"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${packages[@]}" ||
    die "apt-get install ${packages[*]} failed"

if [[ " ${packages[*]} " == *" dovecot-imapd "* ]]; then
    # The package may have started a system Dovecot; the tests run their own instance.
    if [ -d /run/systemd/system ]; then
        say "stopping and disabling the system dovecot service (tests run their own)"
        "${as_root[@]}" systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/dovecot ]; then
        say "stopping and disabling the system dovecot service (tests run their own)"
        "${as_root[@]}" service dovecot stop >/dev/null 2>&1 || true
        "${as_root[@]}" update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
fi

command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 ||
    die "apt-get finished but dovecot/doveadm are still not found"
command -v openssl >/dev/null 2>&1 || die "apt-get finished but openssl is still not found"
say "ready: $(dovecot --version)"
