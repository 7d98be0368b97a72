#!/usr/bin/env bash
# Regenerates expected/NAME.jsonl from scenarios/NAME.json with the reference
# runner (Python redress 1.4.2). Never edit an expected trace by hand.
#
#   bash conformance/regenerate.sh                 # every scenario
#   bash conformance/regenerate.sh NAME [NAME...]  # only these
#
# Needs `pip install redress==1.4.2` and the shared reference runner; set
# REFERENCE to its path if it is not at ../shared/conformance/reference.py
# (relative to the repository root, where the shared material sits).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
reference="${REFERENCE:-}"
if [[ -z "$reference" ]]; then
    reference="$here/../../shared/conformance/reference.py"
fi
if [[ -z "$reference" || ! -f "$reference" ]]; then
    echo "regenerate.sh: cannot find reference.py; set REFERENCE=/path/to/reference.py" >&2
    exit 2
fi

if [[ $# -eq 0 ]]; then
    names=()
    for scenario in "$here"/scenarios/*.json; do
        names+=("$(basename "$scenario" .json)")
    done
else
    names=("$@")
fi

for name in "${names[@]}"; do
    python3 "$reference" "$here/scenarios/$name.json" > "$here/expected/$name.jsonl.tmp"
    mv "$here/expected/$name.jsonl.tmp" "$here/expected/$name.jsonl"
    echo "regenerated expected/$name.jsonl"
done
