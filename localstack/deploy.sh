#!/usr/bin/env bash
# The compose service `deployer` (docker-compose.yml): deploys ../template.yaml to the LocalStack service as stack
# careforall with ../stacks/local.json's parameters, then seeds the ADMIN.
#
#   1. pip-installs deployer-requirements.txt (the pinned SAM CLI, samlocal, AWS CLI v1 and awslocal);
#   2. waits until LocalStack has run its ready hooks;
#   3. copies the repository (mounted read-only at /src) to a scratch directory and runs `samlocal build` there:
#      the image's python3.11 is the functions' runtime, so no build container is needed;
#   4. `samlocal deploy --resolve-s3` with stacks/local.json's parameters, CAREFORALL_PARAMETER_OVERRIDES on top;
#   5. init/ready.d/seed-admin.sh, which must find the stack now.
set -euo pipefail

src=${CAREFORALL_SRC:-/src}
stack_name=${CAREFORALL_STACK_NAME:-careforall}
endpoint=${AWS_ENDPOINT_URL:?AWS_ENDPOINT_URL must name LocalStack, e.g. http://localstack:4566}
export DISABLE_DEPRECATION_NOTICE=1 # samlocal's note pointing to `lstk sam`

log() { printf 'deployer: %s\n' "$*"; }

log "installing $(grep -cv '^#' "$src/localstack/deployer-requirements.txt") pinned tools"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -r "$src/localstack/deployer-requirements.txt"

log "waiting for LocalStack at $endpoint"
localstack_ready() {
  python3 - "$endpoint" <<'PY'
import json
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1] + "/_localstack/init/ready", timeout=5) as response:
        sys.exit(0 if json.load(response).get("completed") else 1)
except (OSError, ValueError):
    sys.exit(1)
PY
}
for attempt in $(seq 1 90); do
  if localstack_ready; then
    break
  fi
  if [[ "$attempt" == 90 ]]; then
    log "LocalStack did not get ready in 3 minutes" >&2
    exit 1
  fi
  sleep 2
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=./.git --exclude=./.venv --exclude=./.aws-sam --exclude=./.local-state \
  --exclude=./test-artifacts --exclude=./node_modules -cf - . | tar -C "$work" -xf -
cd "$work"
# samconfig.toml holds the AWS environments' settings (stack names, regions, S3 prefixes): none of them apply here.
rm -f samconfig.toml

params=$(python3 - stacks/local.json <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    for key, value in json.load(handle)["Parameters"].items():
        print(f"{key}={value}")
PY
)
mapfile -t overrides <<< "$params"
# LocalStack Community has no CloudFront: leave the web app's distribution out when the template offers the switch.
if grep -Eq '^  DeployWebAppDistribution:' template.yaml; then
  overrides+=("DeployWebAppDistribution=false")
fi
if [[ -n "${CAREFORALL_PARAMETER_OVERRIDES:-}" ]]; then
  read -r -a extra <<< "$CAREFORALL_PARAMETER_OVERRIDES"
  overrides+=("${extra[@]}")
fi

log "samlocal build"
samlocal build --template-file template.yaml --build-dir .aws-sam/build

log "samlocal deploy: stack $stack_name, parameters ${overrides[*]}"
samlocal deploy --template-file .aws-sam/build/template.yaml --stack-name "$stack_name" --resolve-s3 \
  --capabilities CAPABILITY_IAM --no-confirm-changeset --no-fail-on-empty-changeset \
  --parameter-overrides "${overrides[@]}"

log "seeding the ADMIN"
CAREFORALL_SEED_REQUIRED=1 bash "$src/localstack/init/ready.d/seed-admin.sh"

api_id=$(awslocal apigateway get-rest-apis --query "items[?name=='${stack_name}-api'].id | [0]" --output text)
log "done. REST API: http://${api_id}.execute-api.localhost.localstack.cloud:4566/v1/ (AWS endpoint: 127.0.0.1:4566)"
