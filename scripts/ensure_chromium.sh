#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright's own browser download does not
# work on this network). Install it when missing; a machine without apt skips quietly
# and the browser tests then skip with a reason.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will be skipped"
fi
exit 0
