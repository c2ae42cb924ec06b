#!/usr/bin/env bash
# Turns a Raspberry Pi into a Wi-Fi access point that captures its clients' traffic for homescope.
# Safe to run again: every step looks first and changes only what differs from the config.
#
#   sudo ./install.sh --config homescope-pi.conf --i-have-informed-household [--dry-run] [--no-ap] [--upgrade]
#
# Exit status: 0 done (or nothing to do), 1 a step failed, 2 wrong usage or configuration.
# See README.md in this folder for what it does, and homescope-pi.conf.example for the settings.
set -euo pipefail

PI_SETUP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/envfile.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/config.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/system.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/ap.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/capture.sh"

CONFIG_FILE=""
INFORMED=0
WITH_AP=1
UPGRADE=0
CAPTURE_SETTINGS_CHANGED=0

usage() {
    cat <<'USAGE'
Usage: sudo ./install.sh --config FILE --i-have-informed-household [options]

Sets up a Wi-Fi access point (NetworkManager) and a continuous, size-bounded capture of its clients'
traffic (dumpcap as a hardened systemd service), and installs homescope to watch it.

  --config FILE                 your settings (start from homescope-pi.conf.example)
  --i-have-informed-household   required: everyone whose traffic passes this Pi knows it is recorded
  --dry-run                     print every command that would change the system, change nothing
  --no-ap                       capture only: leave the network alone (e.g. the Pi already is an AP)
  --upgrade                     reinstall homescope from HS_HOMESCOPE_SPEC even if it is installed
  -h, --help                    this text
USAGE
}

parse_args() {
    while (($#)); do
        case $1 in
            --config)
                (($# >= 2)) || die "--config needs a file name" 2
                CONFIG_FILE=$2
                shift
                ;;
            --config=*) CONFIG_FILE=${1#--config=} ;;
            --i-have-informed-household) INFORMED=1 ;;
            --dry-run) DRY_RUN=1 ;;
            --no-ap) WITH_AP=0 ;;
            --upgrade) UPGRADE=1 ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) die "unknown option '$1' (see --help)" 2 ;;
        esac
        shift
    done
    [[ -n $CONFIG_FILE ]] || die "--config FILE is required (start from homescope-pi.conf.example)" 2
}

require_informed_household() {
    ((INFORMED)) && return 0
    cat >&2 <<'NOTICE'
error: this records the network traffic of every device that joins the access point.

Before installing, tell everyone in your household (and guests) that their devices' traffic is
recorded on this Pi, what is kept (by default only packet headers: who talks to whom, when, how
much, and DNS names) and for how long. In many countries recording others' communications without
their knowledge is unlawful. See "Privacy" in README.md.

When you have done that, run the installer again with --i-have-informed-household.
NOTICE
    exit 2
}

read_and_check_config() {
    load_config "$CONFIG_FILE"
    local no_ap=()
    ((WITH_AP)) || no_ap=(--no-ap)
    if ! validate_config "${no_ap[@]}"; then
        print_config_errors "$CONFIG_FILE"
        exit 2
    fi
    SECRETS=("$HS_PSK")
}

# --- preflight: read-only checks ---------------------------------------------------------------------

check_os() {
    local codename=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck source=/dev/null
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    case $codename in
        bookworm | trixie) ;;
        *) warn "made for Raspberry Pi OS Bookworm or Trixie; this is '${codename:-unknown}', carrying on" ;;
    esac
}

iface_exists() { ip -o link show dev "$1" >/dev/null 2>&1; }

check_interfaces() {
    if ((WITH_AP)); then
        have_command nmcli || die "nmcli is missing: this installer needs NetworkManager (the default since Raspberry Pi OS Bookworm)"
        systemctl is-active --quiet NetworkManager ||
            die "NetworkManager is not running; enable it (sudo raspi-config: Advanced Options > Network Config) or use --no-ap"
        iface_exists "$HS_WIFI_IFACE" || die "there is no interface '$HS_WIFI_IFACE' (HS_WIFI_IFACE); list them with: ip -br link"
        iface_exists "$HS_UPLINK_IFACE" || die "there is no interface '$HS_UPLINK_IFACE' (HS_UPLINK_IFACE); list them with: ip -br link"
    fi
    # In routed and bridged mode alike the capture interface is the Wi-Fi one, which exists by now;
    # with --no-ap it must already exist.
    iface_exists "$HS_CAPTURE_IFACE" || die "there is no interface '$HS_CAPTURE_IFACE' (HS_CAPTURE_IFACE); list them with: ip -br link"
}

# Turning the Wi-Fi into an access point cuts an SSH session that came in over it.
check_not_connected_over_wifi() {
    ((WITH_AP)) || return 0
    [[ -n ${SSH_CONNECTION:-} ]] || return 0
    local server_ip
    server_ip=$(awk '{ print $3 }' <<<"$SSH_CONNECTION")
    # (Output is captured before grep reads it: `cmd | grep -q` can fail under pipefail when grep
    # stops reading early and cmd dies of SIGPIPE.)
    if grep -Fq " $server_ip/" <<<"$(ip -o addr show dev "$HS_WIFI_IFACE" 2>/dev/null)" &&
        ! nm_profile_active "$AP_PROFILE"; then
        die "you are connected over $HS_WIFI_IFACE, which is about to become the access point and would drop this session. Connect the Pi by Ethernet ($HS_UPLINK_IFACE), SSH in over that, and run this again."
    fi
}

check_ring_fits() {
    local ring_kb available_kb existing_kb problem
    ring_kb=$(ring_size_kb)
    available_kb=$(disk_available_kb "$HS_DUMP_DIR")
    existing_kb=$(dumps_size_kb "$HS_DUMP_DIR")
    problem=$(ring_fit_problem "$ring_kb" $((available_kb + existing_kb)) "$(nearest_existing_dir "$HS_DUMP_DIR")")
    [[ -z $problem ]] || die "$problem" 2
    log "capture ring: up to $(kb_to_mib "$ring_kb") MiB in $HS_DUMP_DIR ($(kb_to_mib $((available_kb + existing_kb))) MiB available)"
}

preflight() {
    step "Checking the system"
    require_root
    check_os
    check_interfaces
    check_not_connected_over_wifi
    check_ring_fits
}

# --- packages -----------------------------------------------------------------------------------------

install_packages() {
    step "Packages"
    local packages=(tshark libcap2-bin python3-venv)
    if ((WITH_AP)); then
        # dnsmasq-base: NetworkManager's DHCP and DNS for "shared" (routed) mode; iw: status.sh's client list
        packages+=(dnsmasq-base iw)
    fi
    # Answer wireshark-common's question before it is asked: no capture rights for every user. The
    # service gets its rights from systemd, and nobody else needs them for `homescope follow`.
    if ! package_installed wireshark-common; then
        run_with_input "wireshark-common wireshark-common/install-setuid boolean false" debconf-set-selections
    fi
    ensure_packages "${packages[@]}"
}

# The filter is checked by compiling it, so a typo fails here and not silently in the service.
check_capture_filter() {
    [[ -n $HS_FILTER ]] || return 0
    if ! have_command dumpcap || ((EUID != 0)); then
        log "(the capture filter is checked when dumpcap is installed and this runs as root)"
        return 0
    fi
    local out
    if ! out=$(dumpcap -d -i "$HS_CAPTURE_IFACE" -f "$HS_FILTER" 2>&1 >/dev/null); then
        die "HS_FILTER is not a valid capture filter: $HS_FILTER
${out}" 2
    fi
}

# --- accounts and folders ---------------------------------------------------------------------------

setup_accounts() {
    step "Service account"
    # The group exists in case dumpcap is (or later becomes) root:wireshark 0754: the unit names it.
    ensure_system_group wireshark
    ensure_system_user "$SERVICE_USER" /nonexistent
    local viewer
    for viewer in $HS_VIEWERS; do
        ensure_user_in_group "$viewer" "$SERVICE_GROUP"
    done
}

setup_dump_dir() {
    step "Dump folder"
    ensure_dir "$HS_DUMP_DIR" 0750 "$SERVICE_USER" "$SERVICE_GROUP"
}

# --- homescope itself -------------------------------------------------------------------------------

setup_homescope() {
    step "homescope in $HS_VENV"
    local marker="$HS_VENV/.homescope-spec" installed_spec=""
    if [[ ! -x $HS_VENV/bin/python ]]; then
        run python3 -m venv "$HS_VENV"  # creates missing parent folders too
    fi
    if [[ -r $marker ]]; then installed_spec=$(<"$marker"); fi
    if ((UPGRADE)) || [[ ! -x $HS_VENV/bin/homescope || $installed_spec != "$HS_HOMESCOPE_SPEC" ]]; then
        run "$HS_VENV/bin/python" -m pip install --upgrade --quiet "$HS_HOMESCOPE_SPEC"
    fi
    # Remembers what was installed, so a re-run only reinstalls when the spec changes (or --upgrade).
    ensure_file_content "$marker" 0644 root root < <(printf '%s\n' "$HS_HOMESCOPE_SPEC")
    ensure_dir_exists "$(dirname "$BIN_LINK")"
    ensure_symlink "$HS_VENV/bin/homescope" "$BIN_LINK"
}

# --- access point -----------------------------------------------------------------------------------

# The regulatory country decides the allowed channels and power; without it the radio stays blocked.
ensure_wifi_country() {
    if have_command raspi-config; then
        if [[ $(raspi-config nonint get_wifi_country 2>/dev/null) != "$HS_COUNTRY" ]]; then
            run raspi-config nonint do_wifi_country "$HS_COUNTRY"
        fi
    elif have_command iw; then
        if ! grep -q "^country $HS_COUNTRY:" <<<"$(iw reg get 2>/dev/null)"; then
            warn "not a Raspberry Pi OS: setting the Wi-Fi country only until the next reboot"
            run iw reg set "$HS_COUNTRY"
        fi
    fi
    if have_command rfkill && grep -q 'Soft blocked: yes' <<<"$(rfkill list wifi 2>/dev/null)"; then
        run rfkill unblock wifi
    fi
}

setup_access_point() {
    if ! ((WITH_AP)); then
        step "Access point: left alone (--no-ap)"
        return 0
    fi
    step "Access point ($HS_MODE) on $HS_WIFI_IFACE"
    ensure_wifi_country
    ensure_ap
}

# --- capture service ----------------------------------------------------------------------------------

install_capture_files() {
    step "Capture service"
    local line src dest mode
    ensure_dir "$ETC_DIR" 0755 root root
    ensure_file_content "$CAPTURE_ENV" 0640 root "$SERVICE_GROUP" < <(render_capture_env)
    if ((FILE_CHANGED)); then CAPTURE_SETTINGS_CHANGED=1; fi
    local ap=no
    if ((WITH_AP)); then ap=yes; fi
    ensure_file_content "$INSTALL_STATE" 0644 root root < <(render_install_state "$ap")

    while read -r src dest mode; do
        ensure_file_copy "$PI_SETUP_DIR/$src" "$LIBEXEC_DIR/$dest" "$mode" root root
        if ((FILE_CHANGED)); then CAPTURE_SETTINGS_CHANGED=1; fi
    done < <(libexec_files)
}

install_units() {
    local unit units_changed=0
    for unit in "${UNIT_FILES[@]}"; do
        ensure_file_copy "$PI_SETUP_DIR/systemd/$unit" "$UNIT_DIR/$unit" 0644 root root
        if ((FILE_CHANGED)); then units_changed=1; fi
    done
    for unit in "$CAPTURE_UNIT" "$RETENTION_UNIT"; do
        ensure_file_content "$UNIT_DIR/$unit.d/10-dump-dir.conf" 0644 root root < <(render_dump_dir_dropin)
        if ((FILE_CHANGED)); then units_changed=1; fi
    done
    if ((units_changed)); then
        run systemctl daemon-reload
        CAPTURE_SETTINGS_CHANGED=1
    fi
    ensure_unit_enabled "$CAPTURE_UNIT"
    ensure_unit_enabled "$RETENTION_TIMER"
    ensure_unit_running "$CAPTURE_UNIT" "$CAPTURE_SETTINGS_CHANGED"
    ensure_unit_running "$RETENTION_TIMER" 0
}

# --- done ---------------------------------------------------------------------------------------------

print_summary() {
    step "Done"
    if ((CHANGES == 0)); then
        log "Nothing to change: the system already matches $CONFIG_FILE."
    elif ((DRY_RUN)); then
        log "Dry run: the $CHANGES command(s) above would be run; nothing was changed."
    fi
    ((DRY_RUN)) && return 0
    cat <<SUMMARY
Capture files: $HS_DUMP_DIR (hs_*.pcapng, a new one every $HS_ROTATE_S s, at most $HS_FILES).
Check:         $PI_SETUP_DIR/status.sh
Watch:         homescope follow $HS_DUMP_DIR
               (over SSH; your account must be in the '$SERVICE_GROUP' group: ${HS_VIEWERS:-nobody yet, see HS_VIEWERS})
SUMMARY
}

main() {
    parse_args "$@"
    require_informed_household
    read_and_check_config
    make_generated_dir
    preflight
    install_packages
    check_capture_filter
    setup_accounts
    setup_dump_dir
    setup_homescope
    setup_access_point
    install_capture_files
    install_units
    print_summary
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
