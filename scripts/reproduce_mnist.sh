#!/usr/bin/env bash
# The MNIST results (docs/results.md): configs/mnist.py for seeds 0-4 and the plain-GAN
# baseline (configs/mnist_gan.py, seed 0), each evaluated on its last
# checkpoint; a JSON summary per run in docs/results/ and the MI-curve plot in
# docs/. Runs one after another; each run's workdir is RUNS/<name>.
#
#   TFDS_DATA_DIR=../shared/tensorflow_datasets scripts/reproduce_mnist.sh [RUNS] [NAME ...]
#
# NAME is mnist_seedN, mnist_gan, mnist_tuned_seedN (configs/mnist_tuned.py)
# mnist_q_on_real_seedN (configs/mnist_q_on_real.py), mnist_restarts_seedN
# (configs/mnist_restarts.py) or mnist_restarts_deform_seedN
# (configs/mnist_restarts_deform.py); default: the first six. A run whose workdir
# already has a summary in docs/results/ is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-/tmp/infogan_runs}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mnist_seed0 mnist_seed1 mnist_seed2 mnist_seed3 mnist_seed4 mnist_gan)
mkdir -p "$runs" docs/results

for name in "${names[@]}"; do
  summary=docs/results/$name.json
  [ -e "$summary" ] && { echo "$summary exists; skipping $name"; continue; }
  case $name in
    mnist_gan) config=configs/mnist_gan.py; seed=0 ;;
    mnist_seed*) config=configs/mnist.py; seed=${name#mnist_seed} ;;
    mnist_tuned_seed*) config=configs/mnist_tuned.py; seed=${name#mnist_tuned_seed} ;;
    mnist_q_on_real_seed*) config=configs/mnist_q_on_real.py; seed=${name#mnist_q_on_real_seed} ;;
    mnist_restarts_seed*) config=configs/mnist_restarts.py; seed=${name#mnist_restarts_seed} ;;
    mnist_restarts_deform_seed*) config=configs/mnist_restarts_deform.py; seed=${name#mnist_restarts_deform_seed} ;;
    *) echo "unknown run $name" >&2; exit 2 ;;
  esac
  # A workdir with checkpoints is continued (exact resume); the record then
  # says from which step its wall time was measured.
  resumed=""
  # (For a run with restarts, the restarts' population counts too.)
  for checkpoint in "$runs/$name"/checkpoints/* "$runs/$name"/restarts/checkpoints/*; do
    step=${checkpoint##*/}
    if [[ $step =~ ^[0-9]+$ ]] && (( step > ${resumed:-0} )); then resumed=$step; fi
  done
  start=$(date +%s)
  python -m infogan_jax.main --config=$config --workdir="$runs/$name" \
      --config.seed="$seed" > "$runs/$name.log" 2>&1
  wall=$(( $(date +%s) - start ))
  python -m infogan_jax.main --workdir="$runs/$name" --mode=eval 2>/dev/null \
      | tee "docs/results/$name.eval.txt"
  python -m infogan_tools.summary --workdir="$runs/$name" --wall_s=$wall \
      --config_file=$config ${resumed:+--resumed_from_step=$resumed} > "$summary.tmp"
  mv "$summary.tmp" "$summary"
done

# The MI curves of every finished run: InfoGAN seeds as one band, the baseline.
plot_runs=()
for name in mnist_seed0 mnist_seed1 mnist_seed2 mnist_seed3 mnist_seed4; do
  [ -e "$runs/$name/metrics.jsonl" ] && plot_runs+=(--run="InfoGAN=$runs/$name")
done
[ -e "$runs/mnist_gan/metrics.jsonl" ] && plot_runs+=(--run="GAN=$runs/mnist_gan")
if [ ${#plot_runs[@]} -gt 0 ]; then
  python -m infogan_tools.plots --out=docs/mnist_mi_curve.png "${plot_runs[@]}"
fi
