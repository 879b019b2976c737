#!/usr/bin/env bash
# Ensure a Docker engine answers `docker info` on a Debian host.
# Installs Debian's docker.io (and debootstrap, which afenv uses for base images) when missing,
# then starts containerd and dockerd in the background. Idempotent: returns at once when an
# engine already answers.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "no Docker engine answers and this is not root: start one (e.g. 'sudo systemctl start docker') and retry"
    exit 1
fi

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" iptables ca-certificates >/dev/null
fi

logdir=/var/log/afenv
mkdir -p "$logdir"
if ! pgrep -x containerd >/dev/null 2>&1; then
    log "starting containerd"
    nohup containerd >"$logdir/containerd.log" 2>&1 &
fi
# Give containerd its socket before dockerd asks for it; poll, do not guess a delay.
for _ in $(seq 1 100); do
    [ -S /run/containerd/containerd.sock ] && break
    sleep 0.1
done
if ! pgrep -x dockerd >/dev/null 2>&1; then
    # A dockerd killed outright (end of a session) leaves its pid file, and a new one refuses it.
    rm -f /var/run/docker.pid
    log "starting dockerd"
    nohup dockerd --containerd=/run/containerd/containerd.sock >"$logdir/dockerd.log" 2>&1 &
fi
for _ in $(seq 1 600); do
    if docker info >/dev/null 2>&1; then
        log "Docker engine is up ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 0.1
done
log "dockerd did not answer within 60 s; see $logdir/dockerd.log"
tail -n 20 "$logdir/dockerd.log" >&2 || true
exit 1
