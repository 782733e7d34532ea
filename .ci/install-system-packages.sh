#!/usr/bin/env bash
# Install the Debian packages the integration tests need (real libvirtd, sshd,
# TLS tooling, optional tshark dissector, ONC RPC peers). Idempotent: skips apt
# entirely when everything is already installed.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

required=(
    libvirt-daemon-system   # libvirtd + the libvirt-qemu user its QEMU driver wants
    libvirt-clients         # virsh
    openssh-server          # private sshd for test+ssh:// URIs
    openssh-client
    netcat-openbsd          # remote side of the ssh transport
    openssl                 # CA / server / client certificates for TLS tests
    python3-libvirt         # reference client for benchmarks (/usr/bin/python3)
    tshark                  # wire checks: tests/server/test_wire.py decodes captures
    tcpdump                 # captures that tests/trace/ reads back
    libvirt-wireshark       # ... with libvirt's dissector
    rpcbind                 # ONC RPC: the rpcbind tests/oncrpc registers with, and rpcinfo
    nfs-common              # showmount
    rpcsvc-proto            # rpcgen and the rpcsvc .x files
    libtirpc-dev            # TI-RPC headers: C reference clients and servers
    nfs-ganesha             # a real NFS/MOUNT server
    nfs-ganesha-vfs         # ... with its VFS backend
    tcpdump                 # packet captures of RPC traffic
    sasl2-bin               # saslpasswd2
    libsasl2-modules        # SASL mechanisms (SCRAM-SHA-256, DIGEST-MD5) for our client and libvirtd
    libsasl2-modules-db     # libvirtd's sasldb, where saslpasswd2 puts the test users
)
# Installed only when this Debian release has them.
optional=()

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for p in "${required[@]}" "${optional[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update
    wanted=()
    for p in "${missing[@]}"; do
        case " ${optional[*]} " in
        *" $p "*)
            # An optional package is wanted only if apt knows a candidate for it.
            cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
            if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
                echo "note: optional package $p is not available here; skipping" >&2
                continue
            fi
            ;;
        esac
        wanted+=("$p")
    done
    # tshark's postinst asks whether non-root users may capture; answer "no"
    # up front so the install never prompts.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' |
        debconf-set-selections
    if [ "${#wanted[@]}" -gt 0 ]; then
        apt-get install -y --no-install-recommends "${wanted[@]}"
    fi
fi

# A fresh machine (or container) lacks these runtime dirs: libvirtd tests mount a
# private tmpfs on /run/libvirt, and sshd refuses to start without /run/sshd.
mkdir -p /run/libvirt /run/sshd
