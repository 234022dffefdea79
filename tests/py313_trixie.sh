#!/usr/bin/env bash
# The unit tests on Debian trixie's CPython 3.13, for a Debian 12 machine without a 3.13 of
# its own (root; debootstrap from Debian, packages from PyPI). A minimal trixie with
# python3.13-venv is bootstrapped once into $TRIXIE_ROOT (default build/trixie), this tree
# (git's HEAD) is copied in, and inside a private mount namespace (proc, /dev, the pip cache)
# the tests run in a venv there. Tests needing what the chroot lacks (redis-server, nginx,
# node, go, chromium) skip, so it runs the pure-Python directories below by default.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(realpath -m "${TRIXIE_ROOT:-build/trixie}")
dirs=${PY313_TEST_DIRS:-tests/audio tests/core tests/admission tests/server tests/lite tests/emulator tests/rest tests/client}

command -v debootstrap >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}
if [ ! -x "$root/usr/bin/python3.13" ]; then
  debootstrap --variant=minbase --include=python3.13-venv,python3-pip trixie "$root" \
    http://deb.debian.org/debian
fi
rm -rf "$root/src" && mkdir -p "$root/src" "$root/root/.cache/pip" "$HOME/.cache/pip"
git archive HEAD | tar -x -C "$root/src"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The host's CA bundle: PyPI may be reached through a proxy the host trusts.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/host-ca.crt"
cat > "$root/run-tests.sh" <<INSIDE
set -euo pipefail
cd /src
python3.13 -VV
test -x /opt/venv/bin/python || python3.13 -m venv /opt/venv
/opt/venv/bin/python -m pip install --quiet --upgrade pip
/opt/venv/bin/python -m pip install --quiet -e '.[emulator,dev]'
/opt/venv/bin/pytest -m "not full" -p no:cacheprovider -q $dirs
INSIDE
exec unshare -m --propagation private bash -c '
  mount -t proc proc "$0/proc" && mount --bind /dev "$0/dev" &&
  mount --bind "$HOME/.cache/pip" "$0/root/.cache/pip" &&
  exec chroot "$0" env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    PIP_CERT=/etc/host-ca.crt SSL_CERT_FILE=/etc/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    bash /run-tests.sh' "$root"
