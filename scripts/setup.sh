# Shared set-up steps for scripts/serve and scripts/test (sourced, not run).
#
# Why a script and not a list of instructions: a newcomer on a fresh machine
# with Python 3.11 runs one command and gets a working registry or a test run.
# Every step checks first and does nothing when it is already done, so the
# commands stay fast on the second run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf 'acse-kg setup: %s\n' "$*" >&2; }
die() { printf 'acse-kg setup: error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly, through passwordless sudo, or not at all.
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
    else return 1
    fi
}

APT_UPDATED=0
# ensure_deb PACKAGE COMMAND...: install the Debian package unless one of the commands exists.
ensure_deb() {
    local pkg="$1"; shift
    local cmd
    for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 && return 0; done
    command -v apt-get >/dev/null 2>&1 || die "'$1' is missing and this is not a Debian-like system: install $pkg yourself"
    say "installing $pkg (needed for: $*)"
    if [ "$APT_UPDATED" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            || die "cannot run apt-get as root: install $pkg yourself (or run as root / with sudo)"
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
        || die "apt-get install $pkg failed"
}

# The Python to build the virtual environment with: 3.11 or newer.
find_python() {
    local py
    for py in python3.11 python3.12 python3.13 python3; do
        if command -v "$py" >/dev/null 2>&1 \
            && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    die "Python 3.11 or newer is needed (found none on PATH)"
}

# pip_progress LOG: pip's output (on stdin) kept whole in LOG, and shown as one numbered line per
# package pip takes up, then the install step. Why: a first set-up spends ~100 s in pip, and pip -q
# printed nothing in that time but a setuptools warning about editable installs; the whole output
# is only shown (its end) when pip fails.
pip_progress() {
    local log="$1" n=0 line name
    : > "$log"
    while IFS= read -r line || [ -n "$line" ]; do  # the last line too, even without a line break
        printf '%s\n' "$line" >> "$log"
        case "$line" in
            "Collecting "* | "Processing "*)
                name="${line#* }"; name="${name%% (from *}"; name="${name##*/}"
                n=$((n + 1))
                say "  [$n] $name" ;;
            "Installing collected packages:"*) say "installing $n packages into $VENV" ;;
            "Successfully installed"*) say "installed" ;;
        esac
    done
}

# ensure_venv EXTRA: create .venv if missing and install the package (with the extra, if any).
# The install is skipped when pyproject.toml has not changed since the last one.
ensure_venv() {
    local extra="${1:-}"
    if [ ! -x "$VENV/bin/python" ]; then
        local py; py="$(find_python)"
        say "creating $VENV with $py"
        "$py" -m venv "$VENV" 2>/dev/null || {
            ensure_deb python3-venv __no_such_command__
            "$py" -m venv "$VENV"
        }
    fi
    local spec="." stamp="$VENV/.acse-kg-installed"
    [ -n "$extra" ] && spec=".[$extra]"
    local want; want="$(cd "$ROOT" && sha256sum pyproject.toml | cut -d' ' -f1) $spec"
    local hash="${want%% *}"
    # An install with the test extra also satisfies a plain one.
    if [ -f "$stamp" ] && { grep -qxF "$want" "$stamp" || { [ "$spec" = "." ] && grep -qxF "$hash .[test]" "$stamp"; }; }; then
        :
    else
        say "upgrading pip in $VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        say "installing the package and its dependencies ($spec): about 100 s the first time"
        local log="$VENV/pip-install.log"
        if ! (cd "$ROOT" && "$VENV/bin/python" -m pip install --progress-bar off -e "$spec" 2>&1) | pip_progress "$log"; then
            tail -n 20 "$log" >&2
            die "pip install -e '$spec' failed (the whole output: $log)"
        fi
        echo "$want" >> "$stamp"
    fi
}

# HermiT (the OWL reasoner behind `acse-kg reason`) runs on Java.
ensure_java() { ensure_deb default-jre-headless java; }

# The tests start HermiT's helper some forty times: with javac it is compiled once into the cache
# (acse_kg/owl/reasoner.py), without it the JRE's source launcher compiles it at every start (2 s of CPU).
ensure_javac() { ensure_deb default-jdk-headless javac; }

# The browser tests drive a headless Chromium.
ensure_chromium() { ensure_deb chromium chromium chromium-browser google-chrome; }

# The compliance suite runs the store interface on Virtuoso too (tests/virtuoso_fixtures.py starts its own).
ensure_virtuoso() { ensure_deb virtuoso-opensource virtuoso-t; }
