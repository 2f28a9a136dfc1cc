#!/bin/bash
# docs/openapi.yaml through Redocly's linter (redocly.yaml: the recommended rules): fails on
# any error or warning.
# Usage: lint.sh REPO_ROOT
set -u
root=$1
out=$(REDOCLY_TELEMETRY=off "$root/tests/contract/node_modules/.bin/redocly" lint --config "$root/tests/contract/redocly.yaml" \
  --format=codeframe "$root/docs/openapi.yaml" 2>&1)
status=$?
echo "$out"
[ $status = 0 ] || { echo "FAIL: redocly lint exited $status"; exit 1; }
echo "$out" | grep -qi "warning" && { echo "FAIL: redocly lint warns"; exit 1; }
echo "$out" | grep -q "Your API description is valid" || { echo "FAIL: redocly lint did not say the document is valid"; exit 1; }
echo PASS
