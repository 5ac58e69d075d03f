#!/usr/bin/env bash
# Seeds the local ADMIN on LocalStack, as `make run` does on the embedded stack: invokes the stack's
# SeedAdminFunction, which creates the account or promotes it (running this again is harmless).
#
# It runs three ways:
#   - as a LocalStack ready hook (this folder is mounted at /etc/localstack/init/ready.d): it seeds a stack that
#     exists already; on a fresh LocalStack there is none yet, so it says so and leaves the seed to the deployer;
#   - from the compose service `deployer` after each deploy (localstack/deploy.sh), with CAREFORALL_SEED_REQUIRED=1,
#     where a missing stack is an error;
#   - by hand, with awslocal on PATH: `bash localstack/init/ready.d/seed-admin.sh`.
set -euo pipefail

stack_name=${CAREFORALL_STACK_NAME:-careforall}
email=${CAREFORALL_ADMIN_EMAIL:-admin@careforall.local}
password=${CAREFORALL_ADMIN_PASSWORD:-careforall-admin}

function_name=$(awslocal cloudformation describe-stacks --stack-name "$stack_name" \
  --query "Stacks[0].Outputs[?OutputKey=='SeedAdminFunctionName'].OutputValue" --output text 2>/dev/null || true)
if [[ -z "$function_name" || "$function_name" == "None" ]]; then
  if [[ "${CAREFORALL_SEED_REQUIRED:-0}" == "1" ]]; then
    echo "seed-admin: stack $stack_name has no SeedAdminFunctionName output: is it deployed?" >&2
    exit 1
  fi
  echo "seed-admin: no stack $stack_name yet; the deployer seeds the ADMIN once it has deployed it"
  exit 0
fi

# AWS CLI v2 reads a blob parameter as base64 unless told otherwise; v1 (what pip installs for awslocal) takes it
# raw and does not know the option.
binary_format=()
if aws --version 2>&1 | grep -q '^aws-cli/2'; then
  binary_format=(--cli-binary-format raw-in-base64-out)
fi

payload=$(EMAIL="$email" PASSWORD="$password" python3 -c \
  'import json, os; print(json.dumps({"email": os.environ["EMAIL"], "password": os.environ["PASSWORD"]}))')
response=$(mktemp)
trap 'rm -f "$response"' EXIT

# The first invocation may wait for LocalStack to pull the Lambda runtime image: a generous read timeout.
function_error=$(awslocal lambda invoke --cli-read-timeout 300 --function-name "$function_name" \
  "${binary_format[@]}" --payload "$payload" --query FunctionError --output text "$response")
cat "$response"
echo
if [[ "$function_error" != "None" ]]; then
  echo "seed-admin: $function_name failed ($function_error)" >&2
  exit 1
fi
echo "seed-admin: ADMIN $email seeded through $function_name"
