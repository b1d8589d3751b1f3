#!/usr/bin/env bash
# Install Debian's prometheus package (prometheus + promtool) for the observability tests, when absent.
# The package's own service is NOT started: the tests run their own Prometheus on 127.0.0.1, and a
# system one would listen on every interface. A temporary policy-rc.d refuses service starts during
# the install (the standard Debian mechanism); an existing policy-rc.d is left alone.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
policy=/usr/sbin/policy-rc.d
placed=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  placed=1
fi
cleanup() { [ -n "$placed" ] && $sudo rm -f "$policy"; }
trap cleanup EXIT
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2
# if a service manager started it anyway, stop it: nothing of ours listens beyond loopback
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
