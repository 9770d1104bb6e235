#!/usr/bin/env bash
# Builds AgentShop (release) and installs the `agentshop` binary and its shell completions under a
# prefix, so that crontab lines and shells name `agentshop` on PATH instead of a path into .build/.
#
#   scripts/install.sh                 # to $PREFIX, default /usr/local as root, else ~/.local
#   PREFIX=/opt/agentshop scripts/install.sh
#
# Installs:  $PREFIX/bin/agentshop
#            $PREFIX/share/bash-completion/completions/agentshop
#            $PREFIX/share/zsh/site-functions/_agentshop
#            $PREFIX/share/fish/vendor_completions.d/agentshop.fish
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if [ -z "${PREFIX:-}" ]; then
    if [ "$(id -u)" -eq 0 ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi

swift build -c release --product agentshop
binary="$(swift build -c release --show-bin-path)/agentshop"

install -d "$PREFIX/bin" "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions" \
    "$PREFIX/share/fish/vendor_completions.d"
# Through a temporary name and a rename: a cron job starting meanwhile runs the old or the new binary,
# never half of one.
install -m 0755 "$binary" "$PREFIX/bin/.agentshop.new"
mv -f "$PREFIX/bin/.agentshop.new" "$PREFIX/bin/agentshop"
"$PREFIX/bin/agentshop" --generate-completion-script bash > "$PREFIX/share/bash-completion/completions/agentshop"
"$PREFIX/bin/agentshop" --generate-completion-script zsh > "$PREFIX/share/zsh/site-functions/_agentshop"
"$PREFIX/bin/agentshop" --generate-completion-script fish > "$PREFIX/share/fish/vendor_completions.d/agentshop.fish"

echo "installed $PREFIX/bin/agentshop ($("$PREFIX/bin/agentshop" --version))"
case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "note: $PREFIX/bin is not on PATH; add it (for cron too: PATH=... at the top of the crontab)" ;;
esac
