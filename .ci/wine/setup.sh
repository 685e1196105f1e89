#!/usr/bin/env bash
# Windows under Wine, for the tests of mcpmux's Windows build (internal/e2e's
# TestWine*): installs Debian's wine64 and mingw if they are missing, builds
# the ProcessPrng shim that Go >= 1.24 programs need and Wine 8 lacks
# (bcryptprimitives.dll, from bcp.c beside this file), and makes a Wine prefix
# with it in system32. Prints the prefix's directory as its last line.
# Idempotent; about 40 s the first time.
#
#   export WINEPREFIX=$(.ci/wine/setup.sh) WINEDEBUG=-all
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
W=${MCPMUX_WINE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mcpmux-wine}
mkdir -p "$W"
if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 gcc-mingw-w64-x86-64; } >"$W/apt.log" 2>&1 ||
    { echo "apt-get install wine64 gcc-mingw-w64-x86-64 failed: $(tail -n 1 "$W/apt.log")" >&2; exit 1; }
fi
export WINEDEBUG=-all WINEPREFIX=$W/prefix
dll=$W/bcryptprimitives.dll
[[ -s $dll && $dll -nt $here/bcp.c ]] || x86_64-w64-mingw32-gcc -shared -o "$dll" "$here/bcp.c" "$here/bcp.def" -ladvapi32
if [[ ! -d $WINEPREFIX/drive_c/windows/system32 ]]; then
  wineboot -i >"$W/wineboot.log" 2>&1 || true
  wineserver -w 2>/dev/null || true
fi
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
echo "$WINEPREFIX"
