#!/usr/bin/env bash
# A real Slurm job array over real data: starts a private single-node cluster on this machine
# (munged, slurmctld and slurmd on localhost, own ports, state in a temporary folder), submits
# `spikey batch` as a 4-task array with scripts/slurm/submit.sh, waits, and checks that every
# archive exists once and verifies and that every entry has its report. Then it submits again
# and checks that the finished work is skipped untouched (resume is a no-op).
#   batch_job_array_test.sh SPIKEY_BINARY SOURCE_DIR
# Exit 77 (skipped) only when Slurm cannot run here: not installed, or not root.
set -euo pipefail
trap 'echo "FAILED at line $LINENO: $BASH_COMMAND"' ERR
spikey=$(realpath "$1") src=$(realpath "$2")
skip() { echo "SKIPPED: $*"; exit 77; }
for c in munged mungekey slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$c" >/dev/null || skip "$c is not installed (scripts/install_deps.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" -eq 0 ] || skip "starting munged, slurmctld and slurmd needs root"

work=$(mktemp -d /tmp/spikey-slurm.XXXXXX)
chmod 700 "$work"
export SLURM_CONF=$work/slurm.conf
cleanup() {
  for d in slurmd slurmctld munged; do
    [ -f "$work/$d.pid" ] && kill "$(cat "$work/$d.pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

mungekey -c -k "$work/munge.key"
chmod 600 "$work/munge.key"
munged --force --socket="$work/munge.sock" --key-file="$work/munge.key" --pid-file="$work/munged.pid" \
  --seed-file="$work/munge.seed" --log-file="$work/munged.log"
port=$((20000 + ($$ % 5000) * 2))
mkdir -p "$work/spool" "$work/state"
cat > "$SLURM_CONF" <<CONF
ClusterName=spikeytest
SlurmctldHost=$(hostname -s)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
$(slurmd -C | head -1) State=UNKNOWN
PartitionName=spikey Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -c || skip "slurmctld does not start here: $(tail -n 3 "$work/slurmctld.log" 2>/dev/null)"
slurmd || skip "slurmd does not start here: $(tail -n 3 "$work/slurmd.log" 2>/dev/null)"
for _ in $(seq 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 1
done
sinfo -h -o '%T' | grep -qE '^(idle|mixed)' || skip "the Slurm node did not come up: $(tail -n 3 "$work/slurmd.log")"

# The manifest: the bundled real recordings (three Neuralink WAVs, the Intan raw slice with its
# options), plus Neuralink files from ../shared/data when present: 8 entries for 4 tasks.
manifest=$work/manifest.txt
{
  echo "# spikey batch test"
  for f in "$src"/samples/neuralink/*.wav; do echo "$f"; done
  echo "\"$src/samples/cinpla32/cinpla32_30kHz_first6000.dat\" --raw-channels 32 --raw-rate 30000 --chunk-seconds 0.05 --level fast"
  shared=${SPIKEY_SHARED_DATA:-$src/../shared/data}/neuralink
  if [ -d "$shared" ]; then
    more=("$shared"/*.wav)
    printf '%s\n' "${more[@]:0:4}"
  fi
} > "$manifest"
entries=$(grep -cvE '^[[:space:]]*(#|$)' "$manifest")
out=$work/archives

SPIKEY=$spikey timeout 600 "$src/scripts/slurm/submit.sh" "$manifest" "$out" --tasks 4 --wait > "$work/job1"
job=$(cat "$work/job1")
echo "job array $job: $entries entries in 4 tasks"
fail() { echo "FAILED: $*"; for f in "$out"/spikey-batch-*.out; do echo "== $f"; cat "$f"; done; exit 1; }
[ "$(ls "$out"/spikey-batch-"$job"_*.out | wc -l)" -eq 4 ] || fail "expected 4 task logs"
for i in 0 1 2 3; do grep -q "^shard $i/4: " "$out/spikey-batch-${job}_$i.out" || fail "task $i printed no summary line"; done
archives=$(find "$out" -name '*.spikey' | wc -l)
[ "$archives" -eq "$entries" ] || fail "$archives archives for $entries entries"
while IFS= read -r line; do
  case $line in '#'*|'') continue ;; esac
  input=$(echo "$line" | sed -E 's/^"([^"]*)".*/\1/; t; s/[[:space:]].*//')
  archive="$out$(realpath "$input").spikey"
  [ -f "$archive" ] || fail "no archive for $input"
  "$spikey" verify "$archive" -q > /dev/null || fail "$archive does not verify"
  grep -q '"status": "compressed"' "$archive.json" || fail "no report for $input"
done < "$manifest"

# Resume: everything is done, so a second array skips every entry and writes nothing.
touch "$work/before-second"
sleep 1
SPIKEY=$spikey timeout 600 "$src/scripts/slurm/submit.sh" "$manifest" "$out" --tasks 4 --wait > "$work/job2"
job2=$(cat "$work/job2")
for i in 0 1 2 3; do grep -qE "^shard $i/4: [0-9]+ entr(y|ies), 0 compressed, [0-9]+ skipped" "$out/spikey-batch-${job2}_$i.out" || fail "task $i of the second run did work"; done
if find "$out" \( -name '*.spikey' -o -name '*.spikey.json' \) -newer "$work/before-second" | grep -q .; then fail "the second run rewrote files"; fi
echo "OK: $entries archives from a 4-task job array verify; the resubmitted array skipped them all"
