#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm executor's tests and for trying
# `dcl-enas search --executor slurm` without a real cluster.
#
#   scripts/slurm-local.sh start    install slurm-wlm + munge if missing (Debian), write the
#                                   config, start munged, slurmctld and slurmd (no systemd),
#                                   wait until the node takes jobs
#   scripts/slurm-local.sh stop     stop the three daemons
#   scripts/slurm-local.sh status   say whether the cluster runs and show the node
#
# The cluster is the local machine (NodeAddr 127.0.0.1) with its CPUs (2 on CI), one partition
# `debug`, no accounting database: finished jobs stay visible to `scontrol show job` for an
# hour (MinJobAge) and every finished job is logged to a job-completion file. Runs as root
# (jobs run as the submitting user). Its files live in $DCL_SLURM_DIR (default
# /var/tmp/dcl-slurm-local); the config is written to /etc/slurm/slurm.conf unless a
# slurm.conf not written by this script is already there, which is refused.
set -euo pipefail

dir=${DCL_SLURM_DIR:-/var/tmp/dcl-slurm-local}
conf=/etc/slurm/slurm.conf
marker="# written by dcl-enas scripts/slurm-local.sh"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  # ps, pgrep and pkill, which this script uses.
  command -v pkill >/dev/null 2>&1 || missing+=(procps)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (Debian packages)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${missing[@]}" >/dev/null ||
      { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
}

write_config() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  # Memory the node offers: 80 % of the machine's, in MiB.
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
  if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
    echo "error: $conf exists and was not written by this script; not touching it" >&2
    exit 1
  fi
  as_root mkdir -p "$dir/state" "$dir/spool" /etc/slurm
  as_root tee "$conf" >/dev/null <<CONF
$marker
ClusterName=dcl-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=3600
MaxArraySize=10001
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
# Without a default, a job asking no memory would hold all of the node's, one job at a time.
DefMemPerCPU=$((mem / cpus))
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

munge_works() {
  munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1
}

# A live process named $1 (zombies, which a container's init may never reap, do not count).
running() {
  ps -eo stat=,comm= | awk -v name="$1" '$1 !~ /^Z/ && $2 == name { found = 1 } END { exit !found }'
}

# SIGTERM, then SIGKILL after 10 s: a slurmd that lost munge can hang in a lock for good.
terminate() {
  running "$1" || return 0
  as_root pkill -x "$1" || true
  for _ in $(seq 20); do
    running "$1" || return 0
    sleep 0.5
  done
  as_root pkill -9 -x "$1" || true
  sleep 0.5
}

start() {
  install_packages
  write_config
  if ! munge_works; then
    as_root pkill -x munged 2>/dev/null || true
    as_root mkdir -p /run/munge /var/log/munge /var/lib/munge
    [ -s /etc/munge/munge.key ] || as_root mungekey --create --keyfile /etc/munge/munge.key
    as_root chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null || true
    as_root chmod 0400 /etc/munge/munge.key
    if id munge >/dev/null 2>&1; then
      as_root su -s /bin/sh munge -c munged
    else
      as_root munged --force
    fi
    for _ in $(seq 20); do
      munge_works && break
      sleep 0.5
    done
    munge_works || { echo "error: munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
  fi
  if running slurmctld; then timeout 10 scontrol reconfigure; else as_root slurmctld; fi
  running slurmd || as_root slurmd
  local host
  host=$(hostname -s)
  for _ in $(seq 30); do
    if timeout 5 sinfo -h -n "$host" -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "local Slurm cluster up: node $host, $(nproc) CPUs, partition debug ($dir)"
      return 0
    fi
    # A node that was down when slurmctld last ran comes back with this.
    timeout 5 scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "error: the local Slurm node did not become idle; logs in $dir" >&2
  sinfo >&2 || true
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  exit 1
}

stop() {
  terminate slurmd
  terminate slurmctld
  terminate munged
  echo "local Slurm cluster stopped"
}

status() {
  local ok=0
  for daemon in munged slurmctld slurmd; do
    if running "$daemon"; then echo "$daemon: running"; else echo "$daemon: stopped"; ok=1; fi
  done
  if [ $ok = 0 ]; then
    sinfo
  fi
  return $ok
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
