#!/usr/bin/env bash
# The installed brickcast, as a package would lay it out.
#   install_test.sh BUILD_DIR destdir : cmake --install into a scratch DESTDIR (default prefix /usr); the
#     installed binary checks the installed config and serves it briefly (models and rules found
#     beside the binary, state in $STATE_DIRECTORY); systemd-analyze verify on the installed unit.
#   install_test.sh BUILD_DIR deb     : cpack builds the .deb; its file list and Depends are checked.
set -euo pipefail
build=$(cd "$1" && pwd)
mode=$2
scratch=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "$mode" = destdir ]; then
  prefix=$(grep '^CMAKE_INSTALL_PREFIX:' "$build/CMakeCache.txt" | cut -d= -f2)
  [ "$prefix" = /usr ] || fail "configured install prefix is $prefix, expected /usr (the default)"
  DESTDIR="$scratch/root" cmake --install "$build" >/dev/null
  root="$scratch/root"
  for f in usr/bin/brickcast etc/brickcast/brickcast.json usr/share/brickcast/models/hvac-5min.model \
           usr/share/brickcast/rules/ahu-g36.json usr/share/brickcast/brick/lbnl-szvav-ahu.ttl \
           usr/share/brickcast/mappings/lbnl-szvav.json usr/include/brickcast/notifier_plugin.h \
           usr/lib/systemd/system/brickcast.service usr/share/doc/brickcast/config-reference.md; do
    [ -e "$root/$f" ] || fail "not installed: /$f"
  done
  ls "$root"/usr/lib/*/brickcast/plugins/libbrickcast_sample_notifier.so >/dev/null || fail "sample plugin not installed"
  grep -q "ExecStart=/usr/bin/brickcast serve --config /etc/brickcast/brickcast.json" \
    "$root/usr/lib/systemd/system/brickcast.service" || fail "the unit does not run the installed binary"
  bin="$root/usr/bin/brickcast"
  env -u BRICKCAST_HOME "$bin" check-config "$root/etc/brickcast/brickcast.json" >"$scratch/effective.json" 2>"$scratch/check.log" \
    || { cat "$scratch/check.log"; fail "check-config of the installed config"; }
  grep -q "forecast model timemixer" "$scratch/check.log" || { cat "$scratch/check.log"; fail "shipped model not found"; }
  grep -q "rule g36-fc1 " "$scratch/check.log" || { cat "$scratch/check.log"; fail "shipped rules not found"; }
  # A short serve of the installed config on a free port.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed "s/127.0.0.1:8080/127.0.0.1:$port/" "$root/etc/brickcast/brickcast.json" >"$scratch/brickcast.json"
  mkdir -p "$scratch/state"
  env -u BRICKCAST_HOME STATE_DIRECTORY="$scratch/state" "$bin" serve --config "$scratch/brickcast.json" \
    >"$scratch/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$scratch/serve.log"; fail "serve exited"; }
    sleep 0.1
  done
  rules=$(curl -fs "http://127.0.0.1:$port/api/v1/rules" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  [ "$rules" -gt 10 ] || fail "the installed daemon loaded $rules rules"
  kill -TERM "$pid"
  wait "$pid" || fail "serve did not stop cleanly on SIGTERM"
  pid=""
  [ -f "$scratch/state/alerts.db" ] || fail "alert state not in \$STATE_DIRECTORY"
  if command -v systemd-analyze >/dev/null; then
    # The unit with its binary path pointed into the DESTDIR, so verify finds the executable.
    sed "s#/usr/bin/brickcast#$root/usr/bin/brickcast#g" "$root/usr/lib/systemd/system/brickcast.service" \
      >"$scratch/brickcast.service"
    systemd-analyze verify "$scratch/brickcast.service" >"$scratch/verify.log" 2>&1 \
      || { cat "$scratch/verify.log"; fail "systemd-analyze verify"; }
    if grep -v "^$" "$scratch/verify.log" | grep -q .; then cat "$scratch/verify.log"; fail "systemd-analyze verify warned"; fi
  else
    echo "systemd-analyze not present: unit verification skipped"
  fi
  echo "install.destdir: ok ($rules rules, port $port)"
elif [ "$mode" = deb ]; then
  (cd "$scratch" && cpack -G DEB -B "$scratch/out" --config "$build/CPackConfig.cmake" >"$scratch/cpack.log" 2>&1) \
    || { cat "$scratch/cpack.log"; fail "cpack"; }
  deb=$(ls "$scratch"/out/brickcast_*.deb)
  dpkg-deb -c "$deb" >"$scratch/files.txt"
  for f in ./usr/bin/brickcast ./etc/brickcast/brickcast.json ./usr/share/brickcast/models/hvac-5min.model \
           ./usr/share/brickcast/rules/ahu-g36.json ./usr/lib/systemd/system/brickcast.service \
           ./usr/include/brickcast/notifier_plugin.h; do
    grep -q " $f\$" "$scratch/files.txt" || { cat "$scratch/files.txt"; fail "not in the package: $f"; }
  done
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "Depends: $depends"
  for p in libtorch librdkafka libcurl libsqlite3 libserd libsystemd libopenblas0-pthread; do
    echo "$depends" | grep -q "$p" || fail "Depends lacks $p"
  done
  if echo "$depends" | grep -q -- "-dev"; then fail "Depends names a -dev package"; fi
  [ "$(dpkg-deb -f "$deb" Package)" = brickcast ] || fail "package name"
  echo "install.deb: ok ($(du -h "$deb" | cut -f1))"
else
  fail "mode: destdir or deb"
fi
