# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# The Wi-Fi access point as NetworkManager profiles. The *_props functions are pure: they print the
# wanted profile as "property<TAB>value" lines, and nm_add_argv / nm_modify_argv turn those into nmcli
# arguments, one per line. ensure_ap applies them through `run`, changing only what differs.

AP_PROFILE=homescope-ap
BRIDGE_PROFILE=homescope-bridge
PORT_PROFILE=homescope-bridge-port
BRIDGE_IFACE=br-homescope
# Above NetworkManager's default of 0, so these profiles win over e.g. "Wired connection 1" or a
# Wi-Fi client profile made by Raspberry Pi Imager for the same interface.
AUTOCONNECT_PRIORITY=150

# The Wi-Fi side, common to both modes.
nm_wifi_props() {
    printf '%s\t%s\n' \
        connection.interface-name "$HS_WIFI_IFACE" \
        connection.autoconnect yes \
        connection.autoconnect-priority "$AUTOCONNECT_PRIORITY" \
        802-11-wireless.ssid "$HS_SSID" \
        802-11-wireless.mode ap \
        802-11-wireless.band "$HS_BAND" \
        802-11-wireless.channel "$HS_CHANNEL" \
        802-11-wireless-security.key-mgmt wpa-psk \
        802-11-wireless-security.proto rsn \
        802-11-wireless-security.pairwise ccmp \
        802-11-wireless-security.group ccmp \
        802-11-wireless-security.psk "$HS_PSK"
}

# Routed: NetworkManager gives clients 10.42.0.x by DHCP and NATs them to the uplink ("shared").
nm_routed_ap_props() {
    nm_wifi_props
    printf '%s\t%s\n' \
        ipv4.method shared \
        ipv6.method "$HS_IPV6"
}

# Bridged: the Wi-Fi is a port of a bridge with the wired uplink; the home router does DHCP and IPv6.
nm_bridged_ap_props() {
    nm_wifi_props
    printf '%s\t%s\n' \
        connection.slave-type bridge \
        connection.master "$BRIDGE_IFACE"
}

# nm_bridge_props UPLINK_MAC: the bridge keeps the uplink's MAC address, so the router hands the Pi
# the same IPv4 address as before and an SSH session can reconnect where it was.
nm_bridge_props() {
    printf '%s\t%s\n' \
        connection.interface-name "$BRIDGE_IFACE" \
        connection.autoconnect yes \
        connection.autoconnect-priority "$AUTOCONNECT_PRIORITY" \
        bridge.stp no \
        bridge.mac-address "${1^^}" \
        ipv4.method auto \
        ipv6.method auto
}

nm_port_props() {
    printf '%s\t%s\n' \
        connection.interface-name "$HS_UPLINK_IFACE" \
        connection.autoconnect yes \
        connection.autoconnect-priority "$AUTOCONNECT_PRIORITY" \
        connection.slave-type bridge \
        connection.master "$BRIDGE_IFACE"
}

# nm_add_argv NAME TYPE < PROPS: nmcli arguments that create the profile, one per line.
nm_add_argv() {
    local name=$1 type=$2 key value
    printf '%s\n' connection add type "$type" con-name "$name"
    while IFS=$'\t' read -r key value; do
        printf '%s\n' "$key" "$value"
    done
}

# nm_modify_argv NAME < PROPS: nmcli arguments that set the given properties on an existing profile.
nm_modify_argv() {
    local name=$1 key value
    printf '%s\n' connection modify "$name"
    while IFS=$'\t' read -r key value; do
        printf '%s\n' "$key" "$value"
    done
}

# The profiles of a mode in activation order, as "NAME TYPE PROPS_FUNCTION" lines.
nm_profiles_for_mode() {
    case $1 in
        routed) printf '%s\n' "$AP_PROFILE wifi nm_routed_ap_props" ;;
        bridged) printf '%s\n' "$BRIDGE_PROFILE bridge nm_bridge_props" "$PORT_PROFILE ethernet nm_port_props" \
            "$AP_PROFILE wifi nm_bridged_ap_props" ;;
    esac
}

# --- reading NetworkManager (never changes anything) --------------------------------------------------

# The list is read whole before grep looks at it: with pipefail, `nmcli | grep -q` fails when grep
# stops reading at the first match and nmcli dies of SIGPIPE.
nm_profile_exists() {
    local names
    names=$(nmcli -g NAME connection show) || return 1
    grep -Fxq -- "$1" <<<"$names"
}

# nm_profile_value NAME PROPERTY: the current value, secrets included, unescaped.
nm_profile_value() { nmcli --escape no --show-secrets -g "$2" connection show "$1"; }

nm_profile_active() { [[ $(nmcli -g GENERAL.STATE connection show "$1" 2>/dev/null) == activated ]]; }

# nm_changed_props NAME < PROPS: the wanted properties whose current value differs.
nm_changed_props() {
    local name=$1 key value current
    while IFS=$'\t' read -r key value; do
        # </dev/null: nmcli must not swallow the list it is being asked about
        current=$(nm_profile_value "$name" "$key" </dev/null) || current=""
        if [[ $current != "$value" ]]; then
            printf '%s\t%s\n' "$key" "$value"
        fi
    done
}

# --- changing NetworkManager ----------------------------------------------------------------------

NM_CHANGED_PROFILES=()

# ensure_nm_profile NAME TYPE PROPS: create the profile, or change only the properties that differ.
# A profile that must switch between standalone and bridge port is recreated, because NetworkManager
# does not let a profile keep IP settings as a port (or gain them when it stops being one).
ensure_nm_profile() {
    local name=$1 type=$2 props=$3 changed argv=()
    if nm_profile_exists "$name"; then
        local wanted_port current_port
        wanted_port=$(awk -F'\t' '$1 == "connection.slave-type" { print $2 }' <<<"$props")
        current_port=$(nm_profile_value "$name" connection.slave-type) || current_port=""
        if [[ $wanted_port != "$current_port" ]]; then
            run nmcli connection delete "$name"
        else
            changed=$(nm_changed_props "$name" <<<"$props")
            if [[ -n $changed ]]; then
                mapfile -t argv < <(nm_modify_argv "$name" <<<"$changed")
                run nmcli "${argv[@]}"
                NM_CHANGED_PROFILES+=("$name")
            fi
            return 0
        fi
    fi
    mapfile -t argv < <(nm_add_argv "$name" "$type" <<<"$props")
    run nmcli "${argv[@]}"
    NM_CHANGED_PROFILES+=("$name")
}

ensure_nm_profile_gone() {
    if nm_profile_exists "$1"; then
        run nmcli connection delete "$1"
    fi
}

ensure_nm_profile_up() {
    local name=$1 profile
    for profile in "${NM_CHANGED_PROFILES[@]}"; do
        if [[ $profile == "$name" ]]; then
            run nmcli connection up "$name"
            return 0
        fi
    done
    if ! nm_profile_active "$name"; then
        run nmcli connection up "$name"
    fi
}

# The uplink's permanent MAC address, for the bridge to keep.
iface_mac() {
    ip -o link show dev "$1" | sed -n 's/.*link\/ether \([0-9a-fA-F:]\{17\}\).*/\1/p'
}

# ensure_ap: the profiles of HS_MODE exist, match the config and are up; the other mode's are gone.
ensure_ap() {
    local name type props_fn props line
    if [[ $HS_MODE == routed ]]; then
        ensure_nm_profile_gone "$PORT_PROFILE"
        ensure_nm_profile_gone "$BRIDGE_PROFILE"
    fi
    while read -r line <&3; do
        read -r name type props_fn <<<"$line"
        if [[ $props_fn == nm_bridge_props ]]; then
            local mac
            mac=$(iface_mac "$HS_UPLINK_IFACE")
            [[ -n $mac ]] || die "cannot read the MAC address of $HS_UPLINK_IFACE"
            props=$($props_fn "$mac")
        else
            props=$($props_fn)
        fi
        ensure_nm_profile "$name" "$type" "$props"
    done 3< <(nm_profiles_for_mode "$HS_MODE")
    while read -r line <&3; do
        read -r name _ <<<"$line"
        ensure_nm_profile_up "$name"
    done 3< <(nm_profiles_for_mode "$HS_MODE")
}
