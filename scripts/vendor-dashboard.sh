#!/usr/bin/env bash
# Fetch the dashboard's browser libraries from the npm registry (pinned by
# dashboard-ui/package-lock.json) and copy the files the UI loads into
# src/kybernetes/dashboard/static/vendor/. Run at build time only, when a version
# changes; the copied files are committed so neither CI nor users need Node.
set -euo pipefail
cd "$(dirname "$0")/../dashboard-ui"
npm ci --no-audit --no-fund --ignore-scripts
out=../src/kybernetes/dashboard/static/vendor
rm -rf "$out"
mkdir -p "$out"
cp node_modules/preact/dist/preact.module.js "$out/preact.js"
# hooks import "preact": point them at the file above (no import map: the page's
# Content-Security-Policy allows no inline script)
cp node_modules/preact/hooks/dist/hooks.module.js "$out/preact-hooks.js"
sed -i 's#from"preact"#from"./preact.js"#; s#from "preact"#from "./preact.js"#' "$out/preact-hooks.js"
cp node_modules/htm/dist/htm.module.js "$out/htm.js"
cp node_modules/js-yaml/dist/js-yaml.mjs "$out/js-yaml.js"
cp node_modules/@xterm/xterm/lib/xterm.js "$out/xterm.js"
cp node_modules/@xterm/xterm/css/xterm.css "$out/xterm.css"
cp node_modules/@xterm/addon-fit/lib/addon-fit.js "$out/addon-fit.js"
# no source-map comments: a browser's developer tools would ask for files not vendored
sed -i '/sourceMappingURL=/d' "$out"/*.js
for p in preact htm js-yaml @xterm/xterm @xterm/addon-fit; do
  printf '%s %s (%s)\n' "$p" "$(node -p "require('./node_modules/$p/package.json').version")" \
    "$(node -p "require('./node_modules/$p/package.json').license")"
done > "$out/VERSIONS"
cat "$out/VERSIONS"
