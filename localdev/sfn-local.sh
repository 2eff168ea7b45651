#!/usr/bin/env bash
# Run the workflow on Step Functions Local (docker compose: `make up`), with the INLINE Map
# variant of statemachine/fanout.asl.json (`fanout render --target stepfunctions-local`).
#
# Prerequisites: the aws CLI; Step Functions Local on $SFN_ENDPOINT; a Lambda endpoint on
# the host port that docker-compose.yml's LAMBDA_ENDPOINT names (3001), one of:
#   .venv/bin/fanout serve-lambda --host 0.0.0.0 --port 3001 --s3-endpoint http://localhost:9000
#   sam local start-lambda --host 0.0.0.0 --port 3001 --env-vars events/env.json   (see README)
# and S3 (MinIO on :9000, seeded by `make up`) holding $BUCKET.
#
#   localdev/sfn-local.sh                       # demo-bucket, prefix "", suffix .pdf
#   BUCKET=demo-bucket PREFIX=docs/ SUFFIX= localdev/sfn-local.sh
#
# Prints the execution's status and output (index_url: the presigned index) and exits 1
# unless it SUCCEEDED. Every variable below can be overridden from the environment.
set -euo pipefail

cd "$(dirname "$0")/.."
SFN_ENDPOINT=${SFN_ENDPOINT:-http://localhost:8083}
FANOUT=${FANOUT:-.venv/bin/fanout}
BUCKET=${BUCKET:-demo-bucket}
PREFIX=${PREFIX:-}
SUFFIX=${SUFFIX-.pdf}
EXPIRES_IN=${EXPIRES_IN:-3600}
NAME=${NAME:-run-$(date -u +%Y%m%dT%H%M%SZ)}
MACHINE=${MACHINE:-fanout-inline}
DEFINITION=${DEFINITION:-.aws-sam/sfn-local/fanout-inline.asl.json}
TIMEOUT=${TIMEOUT:-600}
ROLE_ARN=arn:aws:iam::123456789012:role/DummyRole
# Step Functions Local accepts any credentials; the aws CLI insists on having some.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER=""

sfn() { aws stepfunctions --endpoint-url "$SFN_ENDPOINT" "$@"; }

"$FANOUT" render --target stepfunctions-local --output "$DEFINITION"

ARN=$(sfn list-state-machines --query "stateMachines[?name=='$MACHINE'].stateMachineArn | [0]" --output text)
if [ -n "$ARN" ] && [ "$ARN" != "None" ]; then
  sfn update-state-machine --state-machine-arn "$ARN" --definition "file://$DEFINITION" >/dev/null
  echo "updated $ARN" >&2
else
  ARN=$(sfn create-state-machine --name "$MACHINE" --definition "file://$DEFINITION" \
        --role-arn "$ROLE_ARN" --query stateMachineArn --output text)
  echo "created $ARN" >&2
fi

INPUT=$(python3 -c 'import json, sys; b, p, s, e = sys.argv[1:]; print(json.dumps(
  {"bucket": b, "prefix": p, "suffix": s, "expires_in": int(e)}))' "$BUCKET" "$PREFIX" "$SUFFIX" "$EXPIRES_IN")
EXEC=$(sfn start-execution --state-machine-arn "$ARN" --name "$NAME" --input "$INPUT" \
       --query executionArn --output text)
echo "started $EXEC with $INPUT" >&2

deadline=$((SECONDS + TIMEOUT))
while :; do
  STATUS=$(sfn describe-execution --execution-arn "$EXEC" --query status --output text)
  [ "$STATUS" != "RUNNING" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "still RUNNING after ${TIMEOUT}s: $EXEC" >&2
    exit 1
  fi
  sleep 1
done

echo "status: $STATUS" >&2
if [ "$STATUS" = "SUCCEEDED" ]; then
  sfn describe-execution --execution-arn "$EXEC" --query output --output text
  exit 0
fi
sfn describe-execution --execution-arn "$EXEC" --query '{error: error, cause: cause}' --output json >&2
echo "history: aws stepfunctions --endpoint-url $SFN_ENDPOINT get-execution-history --execution-arn $EXEC" >&2
exit 1
