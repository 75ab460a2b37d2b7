#!/bin/sh
# The container's entrypoint: curvehost serve, with its key store and journal
# under the data directory (the image's volumes). Arguments are passed on to
# serve: docker run ... curvehost --open --fsync always
#
# CURVEHOST_DATA names the data directory; the image sets /var/lib/curvehost.
# exec: serve replaces this shell, so docker stop's SIGTERM reaches node, which
# stops the server cleanly (users told, journal flushed).
set -eu

data="${CURVEHOST_DATA:-/var/lib/curvehost}"
exec curvehost serve --keys "$data/keys" --state "$data/state" "$@"
