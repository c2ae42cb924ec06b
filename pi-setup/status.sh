#!/usr/bin/env bash
# Is it working? Access point, clients, capture service, dump files, drops and retention at a glance.
# Changes nothing. Works as any member of the homescope group; with sudo it can also read the journal
# (drop counts) when your account is not in the adm or systemd-journal group.
#
#   ./status.sh
#
# Exit status: 0 the access point (if installed) and the capture are running, 1 something is down,
# 2 homescope's pi-setup is not installed.
set -euo pipefail

PI_SETUP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/common.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/envfile.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/ap.sh"
# shellcheck source-path=SCRIPTDIR
source "$PI_SETUP_DIR/lib/capture.sh"

HEALTHY=1

row() { printf '%-13s %s\n' "$1" "$2"; }
down() {
    row "$1" "$2"
    HEALTHY=0
}

# Bytes as a short human-readable size.
human_size() { numfmt --to=iec-i --suffix=B -- "$1" 2>/dev/null || printf '%s bytes' "$1"; }

read_settings() {
    if [[ ! -r $INSTALL_STATE ]]; then
        printf 'homescope pi-setup is not installed here (%s is missing); see README.md\n' "$INSTALL_STATE" >&2
        exit 2
    fi
    read_env_file "$INSTALL_STATE" "${INSTALL_STATE_KEYS[@]}" || exit 2
    if [[ -r $CAPTURE_ENV ]]; then
        read_env_file "$CAPTURE_ENV" "${CAPTURE_ENV_KEYS[@]}" || exit 2
    else
        row "Settings:" "cannot read $CAPTURE_ENV (join the '$SERVICE_GROUP' group, or use sudo)"
    fi
}

show_access_point() {
    if [[ $HS_AP != yes ]]; then
        row "Access point:" "not managed by homescope (installed with --no-ap)"
        return 0
    fi
    if ! have_command nmcli; then
        down "Access point:" "nmcli is missing"
        return 0
    fi
    if nm_profile_active "$AP_PROFILE"; then
        local ssid
        ssid=$(nmcli --escape no -g 802-11-wireless.ssid connection show "$AP_PROFILE" 2>/dev/null) || ssid="?"
        row "Access point:" "up on $HS_WIFI_IFACE, SSID \"$ssid\" ($HS_MODE)"
    elif nm_profile_exists "$AP_PROFILE"; then
        down "Access point:" "DOWN: profile $AP_PROFILE exists but is not active; try: sudo nmcli connection up $AP_PROFILE"
    else
        down "Access point:" "MISSING: no NetworkManager profile $AP_PROFILE; run install.sh again"
    fi
}

# Hostnames from NetworkManager's DHCP leases (routed mode), keyed by MAC address.
declare -A LEASE_NAMES=()
declare -A LEASE_IPS=()
read_leases() {
    local file="$HS_ROOT/var/lib/NetworkManager/dnsmasq-$HS_WIFI_IFACE.leases" _expiry mac ip name _rest
    [[ -r $file ]] || return 0
    while read -r _expiry mac ip name _rest; do
        LEASE_IPS[${mac,,}]=$ip
        [[ $name != "*" ]] && LEASE_NAMES[${mac,,}]=$name
    done <"$file"
    return 0
}

show_clients() {
    [[ $HS_AP == yes ]] || return 0
    if ! have_command iw; then
        row "Clients:" "unknown (iw is not installed)"
        return 0
    fi
    local macs=() mac
    mapfile -t macs < <(iw dev "$HS_WIFI_IFACE" station dump 2>/dev/null | awk '$1 == "Station" { print tolower($2) }')
    read_leases
    row "Clients:" "${#macs[@]} connected (the onboard radio manages about 7-8)"
    for mac in "${macs[@]}"; do
        row "" "$mac  ${LEASE_IPS[$mac]:-}  ${LEASE_NAMES[$mac]:-}"
    done
}

show_capture_service() {
    local state sub since restarts
    state=$(systemctl show -p ActiveState --value "$CAPTURE_UNIT" 2>/dev/null) || state=unknown
    sub=$(systemctl show -p SubState --value "$CAPTURE_UNIT" 2>/dev/null) || sub=""
    since=$(systemctl show -p ActiveEnterTimestamp --value "$CAPTURE_UNIT" 2>/dev/null) || since=""
    restarts=$(systemctl show -p NRestarts --value "$CAPTURE_UNIT" 2>/dev/null) || restarts="?"
    if [[ $state == active ]]; then
        row "Capture:" "running on ${HS_CAPTURE_IFACE:-?} since ${since:-?} (restarts: ${restarts:-0})"
    else
        down "Capture:" "${state^^} ${sub}: see: journalctl -u $CAPTURE_UNIT -n 50"
    fi
}

show_dumps() {
    local dir=$HS_DUMP_DIR files=() total=0 size newest newest_mtime now
    if [[ ! -d $dir ]]; then
        down "Dumps:" "$dir does not exist"
        return 0
    fi
    if [[ ! -r $dir || ! -x $dir ]]; then
        row "Dumps:" "cannot read $dir (join the '$SERVICE_GROUP' group, or use sudo)"
        return 0
    fi
    mapfile -t files < <(find "$dir" -maxdepth 1 -type f -name 'hs_*.pcapng*' -printf '%T@ %s %p\n' | sort -n)
    for size in "${files[@]}"; do
        read -r _ size _ <<<"$size"
        total=$((total + size))
    done
    row "Dumps:" "${#files[@]} files, $(human_size "$total") in $dir"
    row "Disk:" "$(df -hP -- "$dir" | awk 'NR == 2 { printf "%s free of %s (%s used) on %s", $4, $2, $5, $6 }')"
    if ((${#files[@]} == 0)); then
        row "Newest file:" "none yet"
        return 0
    fi
    read -r newest_mtime size newest <<<"${files[-1]}"
    now=$(date +%s)
    row "Newest file:" "$(basename -- "$newest"), $(human_size "$size"), written $((now - ${newest_mtime%.*})) s ago"
}

# dumpcap reports received/dropped packets only when it stops, so the journal has one line per run.
show_drops() {
    local lines
    if ! lines=$(journalctl -u "$CAPTURE_UNIT" --no-pager -o cat -n 2000 2>/dev/null | grep -F 'Packets received/dropped' | tail -n 3); then
        lines=""
    fi
    if [[ -n $lines ]]; then
        row "Drops:" "per capture run, newest last:"
        while IFS= read -r line; do
            row "" "$line"
        done <<<"$lines"
    else
        row "Drops:" "none reported (dumpcap reports them when a run ends; reading the journal may need sudo)"
    fi
}

show_retention() {
    local next
    next=$(systemctl show -p NextElapseUSecRealtime --value "$RETENTION_TIMER" 2>/dev/null) || next=""
    if systemctl is-active --quiet "$RETENTION_TIMER"; then
        row "Retention:" "daily; next run ${next:-soon}; keeps ${HS_RETENTION_DAYS:-?} days and ${HS_MIN_FREE_PCT:-?}% of the disk free"
    else
        down "Retention:" "timer $RETENTION_TIMER is not active; try: sudo systemctl enable --now $RETENTION_TIMER"
    fi
}

main() {
    read_settings
    show_access_point
    show_clients
    show_capture_service
    show_dumps
    show_drops
    show_retention
    printf '\nWatch it: homescope follow %s\n' "$HS_DUMP_DIR"
    ((HEALTHY)) || exit 1
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
