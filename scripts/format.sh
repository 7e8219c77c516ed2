#!/bin/sh
# clang-format (.clang-format) over the files listed below: `scripts/format.sh`
# rewrites them, `scripts/format.sh --check` fails on any difference (.ci/run).
# The list grows part by part as each is formatted (docs/CONTRIBUTING.md):
# formatting a part in one commit of its own keeps merges readable.
set -eu
cd "$(dirname "$0")/.."
# Parts and files kept formatted (git pathspecs).
paths='
core
recording/include/knotmap/recording.h
recording/src/format.c
recording/src/reader.c
recording/src/writer.c
recording/src/recording_internal.h
session
hardware/protocol
hardware/sim
cli/session_util.c
cli/session_util.h
cli/cmd_history.c
cli/cmd_record.c
tests/core
tests/session
tests/recording/test_recording.c
tests/recording/test_events.c
'
# A folder lists every file under it (one pathspec per word, hence no quotes).
# shellcheck disable=SC2086
files=$(git ls-files -- $paths | grep -E '\.[ch]$' | sort -u)
cf=${CLANG_FORMAT:-clang-format}
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in $files; do
    if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then
      echo "format.sh: $f differs from .clang-format (run scripts/format.sh)"
      bad=1
    fi
  done
  [ $bad -eq 0 ] && echo "format.sh: $(echo "$files" | wc -l) files match .clang-format"
  exit $bad
fi
# shellcheck disable=SC2086
"$cf" -i $files
