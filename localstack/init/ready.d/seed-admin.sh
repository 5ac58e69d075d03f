#!/usr/bin/env bash
# Seeds the local ADMIN on LocalStack, as `make run` does on the embedded stack.
set -euo pipefail
function_name=$(awslocal cloudformation describe-stacks --stack-name careforall \
  --query "Stacks[0].Outputs[?OutputKey=='SeedAdminFunctionName'].OutputValue" --output text)
awslocal lambda invoke --function-name "$function_name" --cli-binary-format raw-in-base64-out \
  --payload "{\"email\": \"${CAREFORALL_ADMIN_EMAIL:-admin@careforall.local}\", \"password\": \"${CAREFORALL_ADMIN_PASSWORD:-careforall-admin}\"}" \
  /dev/stdout
