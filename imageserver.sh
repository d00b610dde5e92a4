#!/usr/bin/env bash
# One entry point for a fresh Debian machine:
#   ./imageserver.sh serve /path/to/photos   install everything, then run the server
#   ./imageserver.sh test                    install everything, then run the whole test suite
#   ./imageserver.sh bench [--files N]       install everything, then run the benchmarks
# Installs Debian packages (as root, via apt-get), a virtual environment in .venv and the
# package. Re-running skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")"

# What the server needs at run time, and what the tests and benchmarks add.
APT_RUN=(python3 python3-venv python3-dev build-essential ffmpeg libimage-exiftool-perl
         libvips42 ca-certificates)
APT_DEV=(libvips-tools b3sum chromium fonts-dejavu-core prometheus)
VENV=.venv

need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
            exit 1
        fi
        echo "installing Debian packages: ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

setup_venv() {
    local extras="$1"
    local stamp="$VENV/.stamp-$extras"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --upgrade pip
    fi
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing Python packages into $VENV ..." >&2
        if [ "$extras" = "dev" ]; then
            "$VENV/bin/pip" install -q -e ".[dev]"
        else
            "$VENV/bin/pip" install -q -e .
        fi
        echo "$want" > "$stamp"
    fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    serve)
        need_apt "${APT_RUN[@]}"
        setup_venv run
        exec "$VENV/bin/imageserver" serve "$@"
        ;;
    test)
        need_apt "${APT_RUN[@]}" "${APT_DEV[@]}"
        setup_venv dev
        export CI="${CI:-}"
        set +e
        # IMAGESERVER_TEST_WORKERS=N runs test files in N parallel workers (a file stays on
        # one worker; each worker has its own SQLite template and PostgreSQL database).
        # The default is one process: on 2 cores a parallel run saved little, and a test
        # server's background threads (nice 15) starve beside a busy worker at nice 0.
        "$VENV/bin/python" -m pytest -n "${IMAGESERVER_TEST_WORKERS:-0}" --dist loadfile "$@"
        code=$?
        set -e
        if [ $code -eq 5 ]; then
            echo "pytest collected no tests: that is a failure, not a pass" >&2
            exit 1
        fi
        exit $code
        ;;
    bench)
        need_apt "${APT_RUN[@]}" "${APT_DEV[@]}"
        setup_venv dev
        exec "$VENV/bin/python" -m bench "$@"
        ;;
    setup)
        need_apt "${APT_RUN[@]}" "${APT_DEV[@]}"
        setup_venv dev
        ;;
    *)
        echo "usage: $0 serve PATH... | test [pytest args] | bench [args] | setup" >&2
        exit 2
        ;;
esac
