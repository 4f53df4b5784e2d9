#!/usr/bin/env bash
# The MNIST screen (docs/results.md): one candidate on one seed for 1,500 steps,
# evaluated every 500 steps; its record goes to
# docs/results/screening/<candidate>_seed<N>.json (skipped if it exists).
#
#   TFDS_DATA_DIR=../shared/tensorflow_datasets scripts/screen_mnist.sh RUNS CANDIDATE SEED [STEPS]
#
# CANDIDATE names a config and its overrides (the case below); STEPS
# defaults to 1,500.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$1 candidate=$2 seed=$3 steps=${4:-1500}
suffix=""
[ "$steps" = 1500 ] || suffix="_steps$steps"
record=docs/results/screening/${candidate}_seed${seed}${suffix}.json
[ -e "$record" ] && { echo "$record exists; skipping"; exit 0; }

faithful=configs/mnist.py
tuned=configs/mnist_tuned.py
case $candidate in
  faithful) config=$faithful; overrides=() ;;
  tuned) config=$tuned; overrides=() ;;
  tuned_z16) config=$tuned; overrides=(--config.model.noise_dim=16) ;;
  tuned_z32) config=$tuned; overrides=(--config.model.noise_dim=32) ;;
  tuned_lcat2) config=$tuned; overrides=(--config.lambda_categorical=2.0) ;;
  tuned_realinfo) config=$tuned; overrides=(--config.lambda_real_information=1.0) ;;
  tuned_consistency) config=$tuned; overrides=(--config.lambda_consistency=1.0) ;;
  tuned_realinfo_consistency) config=$tuned
    overrides=(--config.lambda_real_information=1.0 --config.lambda_consistency=1.0) ;;
  # The paired information (IIC's objective) in place of, or beside, the
  # consistency term.
  tuned_realinfo_paired) config=$tuned
    overrides=(--config.lambda_real_information=1.0 --config.lambda_paired_information=1.0) ;;
  tuned_realinfo_consistency_paired) config=$tuned
    overrides=(--config.lambda_real_information=1.0 --config.lambda_consistency=1.0
               --config.lambda_paired_information=1.0) ;;
  # tuned_realinfo_consistency (= configs/mnist_q_on_real.py) with an
  # overclustering head of 50 categories on D's body, trained by the paired
  # information of its categories.
  tuned_realinfo_consistency_overcluster50) config=$tuned
    overrides=(--config.lambda_real_information=1.0 --config.lambda_consistency=1.0
               --config.model.overcluster_categories=50 --config.lambda_overcluster=1.0) ;;
  *) echo "unknown candidate $candidate" >&2; exit 2 ;;
esac

workdir=$runs/screen_${candidate}_seed${seed}${suffix}
mkdir -p "$runs" docs/results/screening
start=$(date +%s)
python -m infogan_jax.main --config=$config --workdir="$workdir" \
  --config.seed="$seed" --config.num_train_steps="$steps" \
  --config.eval_every_steps=500 --config.sample_every_steps=500 \
  --config.checkpoint_every_steps=500 "${overrides[@]}" > "$workdir.log" 2>&1
wall=$(( $(date +%s) - start ))
python -m infogan_tools.summary --workdir="$workdir" --wall_s=$wall \
  --candidate="$candidate" > "$record.tmp"
mv "$record.tmp" "$record"
echo "$record"
