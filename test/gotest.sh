#!/bin/sh
# gotest.sh runs `go test ARGS...` (or $GO test), printing its output as it
# comes, and after a failure repeats the lines that name what failed: a CI
# log that keeps only its tail (a timeout's goroutine dump alone is thousands
# of lines) still names the tests that failed or hung.
set -u
go=${GO:-go}
log=$(mktemp) || exit 1
rc=$(mktemp) || exit 1
trap 'rm -f "$log" "$rc"' EXIT
{ "$go" test "$@" 2>&1; echo $? >"$rc"; } | tee "$log"
code=$(cat "$rc")
if [ "$code" != 0 ]; then
	echo "=== gotest.sh: go test $* exited $code; its failures and running tests:"
	grep -E '^(--- FAIL|FAIL|panic: )|^[[:space:]]+(running tests:|Test[^ ]+ \([0-9])' "$log" | head -60
	# The first lines each failed test printed (its errors usually come
	# before its summary logs, which a kept tail shows instead).
	awk '/^=== (RUN|CONT)/ { cur = $3; next }
		/^--- FAIL: / { failed[++n] = $3 }
		cur != "" && /^    / && count[cur] < 20 { out[cur] = out[cur] $0 "\n"; count[cur]++ }
		END { for (i = 1; i <= n; i++) printf "=== the first lines of %s:\n%s", failed[i], out[failed[i]] }' "$log" | head -60
	echo "=== the last tests started:"
	grep -E '^=== (RUN|CONT)' "$log" | tail -5
fi
exit "$code"
