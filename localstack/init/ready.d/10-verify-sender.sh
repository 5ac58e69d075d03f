#!/usr/bin/env bash
# LocalStack ready hook: verifies the sender identity of CareForAll's emails, so the functions' SES sends
# (receipts, donation links, goal notes) are accepted. Runs before seed-admin.sh (hooks run in name order).
set -euo pipefail

sender=${CAREFORALL_SENDER_EMAIL:-noreply@careforall.local}
awslocal ses verify-email-identity --email-address "$sender"
echo "verify-sender: $sender is a verified SES identity"
