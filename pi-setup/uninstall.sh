#!/usr/bin/env bash
# Undoes install.sh: stops and removes the capture service and the retention timer, deletes the
# access point profiles, homescope's virtual environment and settings. The capture files (and the
# homescope account that owns them) are kept unless --purge is given. Installed packages stay.
#
#   sudo ./uninstall.sh [--dry-run] [--purge]
#
# Exit status: 0 done, 1 a step failed, 2 wrong usage.
set -euo pipefail

PI_SETUP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/envfile.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/system.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/ap.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/capture.sh"

PURGE=0

usage() {
    cat <<'USAGE'
Usage: sudo ./uninstall.sh [--dry-run] [--purge]

  --dry-run   print every command that would change the system, change nothing
  --purge     also delete the capture files and the homescope account
USAGE
}

parse_args() {
    while (($#)); do
        case $1 in
            --dry-run) DRY_RUN=1 ;;
            --purge) PURGE=1 ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) die "unknown option '$1' (see --help)" 2 ;;
        esac
        shift
    done
}

# What install.sh recorded; the defaults cover an install whose record is already gone.
read_install_state() {
    HS_AP=yes
    HS_DUMP_DIR=/var/lib/homescope/dumps
    HS_VENV=/opt/homescope/venv
    if [[ -r $INSTALL_STATE ]]; then
        read_env_file "$INSTALL_STATE" "${INSTALL_STATE_KEYS[@]}" || die "cannot read $INSTALL_STATE"
    else
        warn "$INSTALL_STATE is missing; assuming the default folders"
    fi
}

# The drop-in folder goes with our drop-in; one that also holds the admin's own overrides stays.
remove_dropin_dir() {
    local dir=$1
    [[ -d $dir ]] || return 0
    if [[ -z $(find "$dir" -mindepth 1 -not -name 10-dump-dir.conf -print -quit) ]]; then
        run rm -rf -- "$dir"
    else
        ensure_file_gone "$dir/10-dump-dir.conf"
    fi
}

remove_units() {
    step "Capture service and retention timer"
    local unit units_present=0
    for unit in "$CAPTURE_UNIT" "$RETENTION_TIMER" "$RETENTION_UNIT"; do
        if have_command systemctl; then
            if systemctl is-active --quiet "$unit"; then
                run systemctl stop "$unit"
            fi
            if [[ $(systemctl is-enabled "$unit" 2>/dev/null) == enabled ]]; then
                run systemctl disable "$unit"
            fi
        fi
    done
    for unit in "${UNIT_FILES[@]}"; do
        if [[ -e $UNIT_DIR/$unit || -d $UNIT_DIR/$unit.d ]]; then
            units_present=1
        fi
        ensure_file_gone "$UNIT_DIR/$unit"
        remove_dropin_dir "$UNIT_DIR/$unit.d"
    done
    if ((units_present)); then
        run systemctl daemon-reload
    fi
}

remove_access_point() {
    [[ $HS_AP == yes ]] || return 0
    have_command nmcli || return 0
    step "Access point profiles"
    local profile
    for profile in "$AP_PROFILE" "$PORT_PROFILE" "$BRIDGE_PROFILE"; do
        ensure_nm_profile_gone "$profile"
    done
}

remove_homescope() {
    step "homescope and its settings"
    # Only a link that points into our virtual environment is ours to remove.
    if [[ $(readlink -- "$BIN_LINK" 2>/dev/null) == "$HS_VENV/bin/homescope" ]]; then
        run rm -f -- "$BIN_LINK"
    fi
    # Only a virtual environment that install.sh made (it carries the marker file).
    if [[ -f $HS_VENV/.homescope-spec ]]; then
        run rm -rf -- "$HS_VENV"
    fi
    if [[ -d $LIBEXEC_DIR ]]; then
        run rm -rf -- "$LIBEXEC_DIR"
    fi
    if [[ -d $ETC_DIR ]]; then
        run rm -rf -- "$ETC_DIR"
    fi
}

# Only homescope's own files go: a dump folder that also holds other files is left in place.
purge_dumps_and_account() {
    step "Capture files and the $SERVICE_USER account (--purge)"
    if [[ -d $HS_DUMP_DIR ]]; then
        run find "$HS_DUMP_DIR" -maxdepth 1 -type f -name 'hs_*.pcapng*' -delete
        if [[ -z $(find "$HS_DUMP_DIR" -mindepth 1 -not -name 'hs_*.pcapng*' -print -quit) ]]; then
            run rmdir -- "$HS_DUMP_DIR"
        else
            warn "$HS_DUMP_DIR holds other files too; left in place"
        fi
    fi
    if getent passwd "$SERVICE_USER" >/dev/null; then
        run userdel "$SERVICE_USER"
    fi
    if getent group "$SERVICE_GROUP" >/dev/null; then
        run groupdel "$SERVICE_GROUP"
    fi
}

main() {
    parse_args "$@"
    require_root
    read_install_state
    remove_units
    remove_access_point
    remove_homescope
    if ((PURGE)); then
        purge_dumps_and_account
    else
        step "Kept"
        log "Capture files in $HS_DUMP_DIR and the $SERVICE_USER account that owns them are kept;"
        log "run with --purge to delete them too."
    fi
    log "Packages (tshark, dnsmasq-base, ...) stay installed; remove them with apt if nothing else uses them."
    if ((DRY_RUN)); then
        log "Dry run: nothing was changed."
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
