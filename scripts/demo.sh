#!/usr/bin/env bash
# One command from a fresh Debian machine to a finished demo run: installs what is missing,
# builds AgentShop, initialises the lake and runs, offline (no key, no network):
#   pipelines/marketplace.yaml   the flagship: the sample shop's pages -> products and reviews ->
#                                enrich -> aggregate -> the marketplace store -> its dump -> report
#   pipelines/demo.yaml          a tour of the other stage kinds (import, command, sql, ...)
# Arguments go to both runs (e.g. --force).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build -c release --product agentshop
agentshop=".build/release/agentshop"

"$agentshop" init datalake --quiet
"$agentshop" validate pipelines/marketplace.yaml pipelines/demo.yaml
"$agentshop" run pipelines/marketplace.yaml --lake datalake "$@"
"$agentshop" run pipelines/demo.yaml --lake datalake "$@"
echo
"$agentshop" runs --lake datalake --limit 3
echo
echo "The store (datalake/store/agentshop.sqlite), products with their category and reviews:"
sqlite3 -header -column datalake/store/agentshop.sqlite "
  SELECT p.slug, substr(p.name, 1, 28) AS name, c.name AS category, pc.name AS parent,
         p.price_cents, p.currency, count(r.id) AS reviews
  FROM products p
  LEFT JOIN product_categories c ON c.id = p.category_id
  LEFT JOIN product_categories pc ON pc.id = c.parent_id
  LEFT JOIN product_reviews r ON r.product_id = p.id
  GROUP BY p.id ORDER BY p.slug LIMIT 8"
