# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# Logging, the one gate every side effect goes through (`run`), and where things are installed.
# Sourced by install.sh, uninstall.sh and status.sh, and by the tests.

# Where files are installed. HS_ROOT is empty on a real system; tests point it at a temporary tree so
# they can install "for real" without touching this machine. File *contents* (units, env files) always
# name the real paths, because that is what systemd sees at run time.
HS_ROOT=${HS_ROOT:-}
ETC_DIR="$HS_ROOT/etc/homescope"
CAPTURE_ENV="$ETC_DIR/capture.env"
INSTALL_STATE="$ETC_DIR/pi-setup.env"
UNIT_DIR="$HS_ROOT/etc/systemd/system"
LIBEXEC_DIR="$HS_ROOT/usr/local/lib/homescope"
BIN_LINK="$HS_ROOT/usr/local/bin/homescope"

# The account the capture runs as. Tests set it to their own account so that installing files with
# this owner works without creating users on the test machine; on a Pi it is always `homescope`.
SERVICE_USER=${HS_SERVICE_USER:-homescope}
SERVICE_GROUP=$SERVICE_USER

DRY_RUN=${DRY_RUN:-0}
CHANGES=0
SECRETS=()        # values that are never printed (the Wi-Fi password)
GENERATED_DIR=""  # rendered files live here before they are installed; shown as <generated>

log() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }

# die MESSAGE [EXIT_CODE]: 1 = something failed, 2 = wrong usage or configuration.
die() {
    printf 'error: %s\n' "$1" >&2
    exit "${2:-1}"
}

# One argument as the shell would need it: bare when that is unambiguous, else in single quotes.
quote_arg() {
    if [[ $1 =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then
        printf '%s' "$1"
    else
        printf '%s' "${1@Q}"
    fi
}

# The command line for the log, with secrets masked and temporary paths made stable, so a dry run
# prints the same plan every time and never shows the password.
format_command() {
    local arg secret shown=()
    for arg in "$@"; do
        for secret in "${SECRETS[@]}"; do
            if [[ -n $secret && $arg == *"$secret"* ]]; then
                arg=${arg//"$secret"/********}
            fi
        done
        if [[ -n $GENERATED_DIR && $arg == "$GENERATED_DIR"/* ]]; then
            arg="<generated>/${arg#"$GENERATED_DIR"/}"
        fi
        shown+=("$(quote_arg "$arg")")
    done
    printf '%s' "${shown[*]}"
}

# Every command that changes the system goes through here: printed, then run (or only printed with
# --dry-run). Read-only queries are run directly, so a dry run still sees the real state.
run() {
    CHANGES=$((CHANGES + 1))
    if ((DRY_RUN)); then
        printf '[dry-run] %s\n' "$(format_command "$@")"
        return 0
    fi
    printf '+ %s\n' "$(format_command "$@")"
    "$@"
}

# run_with_input TEXT COMMAND...: like run, with TEXT on standard input (for debconf-set-selections).
run_with_input() {
    local input=$1
    shift
    CHANGES=$((CHANGES + 1))
    if ((DRY_RUN)); then
        printf '[dry-run] %s <<< %s\n' "$(format_command "$@")" "$(format_command "$input")"
        return 0
    fi
    printf '+ %s <<< %s\n' "$(format_command "$@")" "$(format_command "$input")"
    "$@" <<<"$input"
}

have_command() { command -v "$1" >/dev/null 2>&1; }

require_root() {
    if ((EUID != 0)) && ! ((DRY_RUN)); then
        die "run this as root, e.g. with sudo (or add --dry-run to only see what would be done)" 2
    fi
}

# A private directory for rendered files, removed on exit.
make_generated_dir() {
    GENERATED_DIR=$(mktemp -d "${TMPDIR:-/tmp}/homescope-pi.XXXXXX")
    trap 'rm -rf -- "$GENERATED_DIR"' EXIT
}
