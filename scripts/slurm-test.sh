#!/usr/bin/env bash
# A real Slurm test of `nsamp sweep --slurm` on one machine:
#  1. starts a single-node Slurm cluster (munge, slurmctld, slurmd; no cgroups, no systemd) in a
#     temporary directory;
#  2. runs a 3-seed sweep of a tiny iDEM recipe here (`nsamp sweep`, uninterrupted) and submits
#     the same sweep as a job array (`nsamp sweep --slurm`);
#  3. once seed 2's run has a checkpoint, stops it with `scancel --batch --signal=TERM` (nsamp
#     writes a checkpoint and exits 143, the task re-queues itself), and waits;
#  4. checks that `nsamp table SWEEP` has all 3 seeds and that every seed's metrics.json,
#     samples.npy and loss.csv equal the uninterrupted local sweep's (wall times aside), and that
#     seed 2 was stopped by SIGTERM and resumed from its checkpoint.
# Usage: scripts/slurm-test.sh [path/to/nsamp]   (as root, with slurm-wlm and munge installed:
#   apt-get install -y slurm-wlm munge). Exits 77 (SKIPPED) when they are not there.
set -euo pipefail
NSAMP="$(realpath "${1:-target/release/nsamp}")"
for c in sbatch slurmctld slurmd scontrol squeue scancel munged; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
        { echo "SKIPPED: $c is not installed (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: starting slurmctld/slurmd needs root"; exit 77; }
[ -x "$NSAMP" ] || { echo "no nsamp binary at $NSAMP"; exit 1; }

S="$(mktemp -d /tmp/nsamp-slurm.XXXXXX)"
mkdir -p "$S/state" "$S/spool" "$S/log"
H="$(hostname -s)"
PIDS=()
cleanup() {
    for f in "$S/slurmd.pid" "$S/slurmctld.pid"; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# munge: reuse a running daemon, else start one (and stop it at the end).
if ! munge -n >/dev/null 2>&1; then
    mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
    [ -f /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    sleep 1
    PIDS+=("$(cat /run/munge/munged.pid)")
fi

CPUS="$(nproc)"
cat > "$S/slurm.conf" <<EOF
ClusterName=nsamptest
SlurmctldHost=$H
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPort=16817
SlurmdPort=16818
MpiDefault=none
NodeName=$H CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
sleep 2
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

cd "$S"
cat > tiny.ron <<'EOF'
Recipe(
    name: "slurm-tiny",
    seed: 11,
    target: Gmm40(),
    model: ScoreMlp(hidden: 32, blocks: 1, embedding: 16),
    objective: Idem(mc: (samples: 64), buffer: (size: 2000, initial: 256, init: Prior, refill_every: 50, refill_samples: 100), sde: (steps: 20)),
    train: (steps: 1500, batch: 64, lr: 1e-3, grad_clip: 0.5, log_every: 250, checkpoint_every: 50),
    eval: (samples: 300, metrics: [W2(), ETvd(), ModeCoverage()]),
)
EOF

echo "== the Slurm sweep (1 CPU per task)"
"$NSAMP" sweep tiny.ron --seeds 3 --out sw --slurm --cpus 1 | tee submit.txt
JOB="$(sed -n 's/^submitted job array \([0-9]*\).*/\1/p' submit.txt)"
[ -n "$JOB" ] || { echo "FAILED: no job id"; exit 1; }
"$NSAMP" sweep tiny.ron --seeds 3 --out sw-dry --slurm --cpus 1 --dry-run | grep -q '#SBATCH --array=0-2'

echo "== stop seed 12 (array task 1) once it has a checkpoint"
for _ in $(seq 600); do
    [ -f sw/seed-12/checkpoint/state.json ] && break
    sleep 0.2
done
[ -f sw/seed-12/checkpoint/state.json ] || { echo "FAILED: seed 12 never checkpointed"; cat "$S"/log/*.log; exit 1; }
scancel --batch --signal=TERM "${JOB}_1"
for _ in $(seq 300); do
    grep -q "stopped by SIGTERM" sw/seed-12/log.txt 2>/dev/null && break
    sleep 0.2
done
grep "stopped by SIGTERM" sw/seed-12/log.txt || { echo "FAILED: seed 12 was not stopped"; exit 1; }
[ ! -f sw/seed-12/metrics.json ] || { echo "FAILED: seed 12 finished before the signal"; exit 1; }
"$NSAMP" table sw 2>&1 | grep -E "seed 12: (stopped|running)" || true
# The task re-queues itself after nsamp's exit 143; Slurm holds a re-queued job for about two
# minutes (BeginTime): let it start now.
for _ in $(seq 100); do
    squeue -h -j "${JOB}_1" -t PENDING 2>/dev/null | grep -q . && break
    sleep 0.3
done
squeue -h -j "${JOB}_1" -t PENDING | grep -q . || { echo "FAILED: task 1 did not re-queue itself"; exit 1; }
grep -h "re-queueing ${JOB}_1" sw/slurm-logs/*.out
scontrol update JobId="${JOB}_1" StartTime=now
echo "task ${JOB}_1 re-queued itself"

echo "== the same sweep here, uninterrupted (1 thread)"
"$NSAMP" --threads 1 sweep tiny.ron --seeds 3 --out local >/dev/null 2>&1

echo "== wait for the array"
for _ in $(seq 900); do
    squeue -h -j "$JOB" 2>/dev/null | grep -q . || break
    sleep 1
done
squeue -j "$JOB" || true

echo "== nsamp table sw"
"$NSAMP" table sw --json > table.json
python3 - <<'EOF'
import json, sys
t = json.load(open("table.json"))
seeds = t["rows"][0]["seeds"]
assert seeds == [11, 12, 13], f"seeds in the table: {seeds}"
assert not t.get("missing"), t.get("missing")
for s in seeds:
    a = json.load(open(f"sw/seed-{s}/metrics.json"))
    b = json.load(open(f"local/seed-{s}/metrics.json"))
    for m in (a, b):
        m.pop("wall_time_s")
    assert a == b, f"seed {s}: the Slurm run's metrics differ from the local run's"
    for f in ("samples.npy", "loss.csv"):
        assert open(f"sw/seed-{s}/{f}", "rb").read() == open(f"local/seed-{s}/{f}", "rb").read(), (s, f)
log = open("sw/seed-12/log.txt").read()
assert "stopped by SIGTERM" in log and "resumed from the checkpoint after step" in log, log
print("all 3 seeds in the table; metrics, samples and loss.csv equal to the uninterrupted sweep's")
EOF
"$NSAMP" table sw
grep -h "resumed from the checkpoint" sw/seed-12/log.txt
echo "PASSED"
