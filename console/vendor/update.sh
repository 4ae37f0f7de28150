#!/bin/sh
# Re-fetches the console's third-party files at the versions package-lock.json
# pins, copies their dist files into ../static/vendor (embedded and served)
# and ../testdata (axe-core, which only the browser tests use), and rewrites
# SHA256SUMS, which TestVendoredFilesMatchSums checks. Run from anywhere:
#   console/vendor/update.sh
# To move to newer versions, edit package.json, delete package-lock.json and
# run it again; commit package.json, package-lock.json, SHA256SUMS and the files.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json "$tmp/"
[ -f package-lock.json ] && cp package-lock.json "$tmp/"
if [ -f package-lock.json ]; then
	(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund)
else
	(cd "$tmp" && npm install --ignore-scripts --no-audit --no-fund)
	cp "$tmp/package-lock.json" .
fi
out=../static/vendor
tout=../testdata
rm -rf "$out" "$tout"
mkdir -p "$out" "$tout"
m="$tmp/node_modules"
cp "$m/react/umd/react.production.min.js" "$out/react.production.min.js"
cp "$m/react-dom/umd/react-dom.production.min.js" "$out/react-dom.production.min.js"
cp "$m/graphiql/graphiql.min.js" "$out/graphiql.min.js"
cp "$m/graphiql/graphiql.min.css" "$out/graphiql.min.css"
cp "$m/cytoscape/dist/cytoscape.min.js" "$out/cytoscape.min.js"
cp "$m/axe-core/axe.min.js" "$tout/axe.min.js"
for p in react react-dom graphiql cytoscape axe-core; do
	dir=$out
	[ "$p" = axe-core ] && dir=$tout
	for f in LICENSE LICENSE.md LICENSE.txt license; do
		if [ -f "$m/$p/$f" ]; then cp "$m/$p/$f" "$dir/LICENSE.$p"; break; fi
	done
	[ -f "$dir/LICENSE.$p" ] || { echo "no license file in $p" >&2; exit 1; }
done
# Paths relative to console/.
(cd .. && sha256sum -- static/vendor/* testdata/* | LC_ALL=C sort -k2) > SHA256SUMS
echo "vendored files updated; SHA256SUMS rewritten"
