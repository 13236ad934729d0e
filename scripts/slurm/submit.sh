#!/usr/bin/env bash
# Submits a `spikey batch` job array: one task per shard, at most --tasks shards (default: one
# per manifest entry, up to 1000). Asks for one GPU per task (--gres=gpu:1) when the cluster
# has GPUs, and runs on CPUs otherwise. Prints the job id.
#   scripts/slurm/submit.sh MANIFEST OUTROOT [--tasks N] [--cpus C] [--wait] [-- spikey batch options...]
# Environment: SPIKEY (the spikey binary, default: spikey on PATH, made absolute), SBATCH_ARGS
# (extra sbatch arguments, e.g. "--partition=archive --time=04:00:00").
set -euo pipefail
usage() { sed -n '2,7p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
manifest=$(realpath "$1") outroot=$(realpath -m "$2")
shift 2
tasks="" cpus=1 wait=() extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --tasks) tasks=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --wait) wait=(--wait); shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
done
entries=$(grep -cvE '^[[:space:]]*(#|$)' "$manifest" || true)
[ "$entries" -gt 0 ] || { echo "submit.sh: $manifest lists no inputs" >&2; exit 1; }
[ -n "$tasks" ] || tasks=$(( entries < 1000 ? entries : 1000 ))
[ "$tasks" -le "$entries" ] || tasks=$entries
spikey=$(command -v "${SPIKEY:-spikey}") || { echo "submit.sh: spikey not found (set SPIKEY)" >&2; exit 1; }
gres=()
if sinfo -h -o '%G' 2>/dev/null | grep -q 'gpu'; then gres=(--gres=gpu:1); fi
mkdir -p "$outroot"
here=$(dirname "$(realpath "$0")")
# shellcheck disable=SC2086
SPIKEY=$spikey sbatch --parsable --export=ALL --array="0-$((tasks - 1))" --cpus-per-task="$cpus" "${gres[@]}" "${wait[@]}" \
  --chdir="$outroot" ${SBATCH_ARGS:-} "$here/spikey_batch.sbatch" "$manifest" "$outroot" "$tasks" "${extra[@]}"
