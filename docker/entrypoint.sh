#!/bin/sh
# Container start: on the first start (no tokens file in the state volume) make an admin token
# and print it once, since the API listens on all interfaces and refuses to run open there.
set -e
tokens=/var/lib/brickcast/tokens.json
if [ "$1" = "serve" ] && [ ! -e "$tokens" ]; then
  echo "brickcast: first start: creating an admin API token in $tokens (shown only now):" >&2
  /usr/bin/brickcast token --name admin --scope admin --add "$tokens" >&2
fi
exec /usr/bin/brickcast "$@"
