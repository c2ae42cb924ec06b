# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# Reading and checking the one configuration file (see homescope-pi.conf.example), and sizing the
# capture ring against the disk. Pure functions: they only read variables and files, never change
# anything, so tests can source this file and call them directly.

CONFIG_KEYS=(
    HS_MODE HS_WIFI_IFACE HS_UPLINK_IFACE HS_SSID HS_PSK HS_COUNTRY HS_BAND HS_CHANNEL HS_IPV6
    HS_CAPTURE_IFACE HS_SNAPLEN HS_DUMP_DIR HS_ROTATE_S HS_FILES HS_FILESIZE_KB HS_RETENTION_DAYS
    HS_MIN_FREE_PCT HS_FILTER HS_VENV HS_HOMESCOPE_SPEC HS_VIEWERS
)

# The share of the free disk space the capture ring may take at most.
RING_MAX_DISK_PCT=70

CONFIG_ERRORS=()

is_config_key() {
    local key
    for key in "${CONFIG_KEYS[@]}"; do
        [[ $key == "$1" ]] && return 0
    done
    return 1
}

# parse_config_line LINE: prints "KEY<TAB>VALUE" for an assignment, nothing for a blank or comment
# line, and fails for anything else. The accepted forms are the shell's, without expansion:
# KEY=word, KEY='anything but a single quote', KEY="anything but \" \\ $ and backquote",
# each optionally followed by a # comment.
parse_config_line() {
    local line=$1 key raw
    local re_assign='^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$'
    local re_single="^'([^']*)'[[:space:]]*(#.*)?\$"
    local re_double='^"([^"\\$`]*)"[[:space:]]*(#.*)?$'
    local re_plain='^([^][:space:]'"'"'"\\$`#;&|<>(){}[]*)[[:space:]]*(#.*)?$'
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && return 0
    [[ $line =~ $re_assign ]] || return 1
    key=${BASH_REMATCH[1]}
    raw=${BASH_REMATCH[2]}
    if [[ $raw =~ $re_single || $raw =~ $re_double || $raw =~ $re_plain ]]; then
        printf '%s\t%s\n' "$key" "${BASH_REMATCH[1]}"
        return 0
    fi
    return 1
}

# load_config FILE: forgets any HS_* setting from the environment, reads FILE (without running it as
# code) and fills in the defaults. Reports every unreadable line at once.
load_config() {
    local file=$1 line parsed key value n=0 errors=()
    [[ -f $file && -r $file ]] || die "cannot read the config file '$file'" 2
    for key in "${CONFIG_KEYS[@]}"; do
        unset "$key"
    done
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        line=${line%$'\r'}
        if ! parsed=$(parse_config_line "$line"); then
            errors+=("line $n: cannot read this line; write it as KEY=value, or KEY='value with spaces'")
            continue
        fi
        [[ -z $parsed ]] && continue
        key=${parsed%%$'\t'*}
        value=${parsed#*$'\t'}
        if ! is_config_key "$key"; then
            errors+=("line $n: unknown setting $key (a typo? the settings are listed in homescope-pi.conf.example)")
            continue
        fi
        printf -v "$key" '%s' "$value"
    done <"$file"
    if ((${#errors[@]})); then
        printf 'error: %s\n' "$file:" >&2
        printf '  - %s\n' "${errors[@]}" >&2
        exit 2
    fi
    apply_config_defaults
}

# The homescope checkout this pi-setup folder belongs to, if it is one (a pyproject.toml naming it).
default_homescope_spec() {
    local repo
    repo=$(cd "${PI_SETUP_DIR:-.}/.." 2>/dev/null && pwd) || repo=""
    if [[ -n $repo && -f $repo/pyproject.toml ]] && grep -q '^name = "homescope"' "$repo/pyproject.toml"; then
        printf '%s\n' "$repo"
    else
        printf 'homescope\n'
    fi
}

apply_config_defaults() {
    : "${HS_MODE:=routed}"
    : "${HS_WIFI_IFACE:=wlan0}"
    : "${HS_UPLINK_IFACE:=eth0}"
    : "${HS_SSID:=}"
    : "${HS_PSK:=}"
    : "${HS_COUNTRY:=}"
    : "${HS_BAND:=bg}"
    if [[ -z ${HS_CHANNEL:-} ]]; then
        if [[ $HS_BAND == a ]]; then HS_CHANNEL=36; else HS_CHANNEL=6; fi
    fi
    : "${HS_IPV6:=disabled}"
    : "${HS_CAPTURE_IFACE:=$HS_WIFI_IFACE}"
    : "${HS_SNAPLEN:=128}"
    : "${HS_DUMP_DIR:=/var/lib/homescope/dumps}"
    : "${HS_ROTATE_S:=3600}"
    : "${HS_FILES:=168}"
    : "${HS_FILESIZE_KB:=65536}"
    : "${HS_RETENTION_DAYS:=7}"
    : "${HS_MIN_FREE_PCT:=15}"
    : "${HS_FILTER:=}"
    : "${HS_VENV:=/opt/homescope/venv}"
    if [[ -z ${HS_HOMESCOPE_SPEC:-} ]]; then HS_HOMESCOPE_SPEC=$(default_homescope_spec); fi
    # By default the person who ran `sudo ./install.sh` may read the dumps.
    if [[ -z ${HS_VIEWERS:-} && -n ${SUDO_USER:-} && ${SUDO_USER:-} != root ]]; then HS_VIEWERS=$SUDO_USER; fi
    : "${HS_VIEWERS:=}"
}

config_error() { CONFIG_ERRORS+=("$1"); }

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 < 10 ** 15)); }

# check_uint_range KEY VALUE MIN MAX
check_uint_range() {
    local key=$1 value=$2 min=$3 max=$4
    if ! is_uint "$value"; then
        config_error "$key: must be a whole number, not '$value'"
    elif ((10#$value < min || 10#$value > max)); then
        config_error "$key: must be between $min and $max, not $value"
    fi
}

is_iface_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$ ]]; }

# A value that can be written into capture.env between double quotes and read back unchanged.
is_env_safe() { [[ $1 != *[\"\\\$\`]* && $1 != *$'\n'* ]]; }

# validate_config [--no-ap]: collects every problem into CONFIG_ERRORS; fails when there is any.
validate_config() {
    local no_ap=0 viewer
    [[ ${1:-} == --no-ap ]] && no_ap=1
    CONFIG_ERRORS=()

    if ((!no_ap)); then
        case $HS_MODE in
            routed | bridged) ;;
            *) config_error "HS_MODE: must be 'routed' or 'bridged', not '$HS_MODE'" ;;
        esac
        is_iface_name "$HS_WIFI_IFACE" || config_error "HS_WIFI_IFACE: '$HS_WIFI_IFACE' is not an interface name (like wlan0)"
        is_iface_name "$HS_UPLINK_IFACE" || config_error "HS_UPLINK_IFACE: '$HS_UPLINK_IFACE' is not an interface name (like eth0)"
        if [[ -n $HS_WIFI_IFACE && $HS_WIFI_IFACE == "$HS_UPLINK_IFACE" ]]; then
            config_error "HS_UPLINK_IFACE: must differ from HS_WIFI_IFACE (the uplink must be wired, e.g. eth0)"
        fi
        validate_wifi_settings
    fi

    is_iface_name "$HS_CAPTURE_IFACE" || config_error "HS_CAPTURE_IFACE: '$HS_CAPTURE_IFACE' is not an interface name"
    if ! is_uint "$HS_SNAPLEN" || { ((10#$HS_SNAPLEN != 0)) && ((10#$HS_SNAPLEN < 64 || 10#$HS_SNAPLEN > 262144)); }; then
        config_error "HS_SNAPLEN: must be 64 to 262144 bytes, or 0 for whole packets, not '$HS_SNAPLEN'"
    fi
    validate_dump_dir
    check_uint_range HS_ROTATE_S "$HS_ROTATE_S" 60 2592000
    check_uint_range HS_FILES "$HS_FILES" 2 100000
    check_uint_range HS_FILESIZE_KB "$HS_FILESIZE_KB" 1024 2097152
    check_uint_range HS_RETENTION_DAYS "$HS_RETENTION_DAYS" 1 3650
    check_uint_range HS_MIN_FREE_PCT "$HS_MIN_FREE_PCT" 0 90
    is_env_safe "$HS_FILTER" ||
        config_error "HS_FILTER: must not contain \" \\ \$ or a backquote (capture filters never need them)"
    [[ $HS_VENV =~ ^/[A-Za-z0-9._/-]+$ && $HS_VENV != *..* ]] ||
        config_error "HS_VENV: must be an absolute path of letters, digits and . _ - /, not '$HS_VENV'"
    [[ -n $HS_HOMESCOPE_SPEC ]] || config_error "HS_HOMESCOPE_SPEC: must not be empty"
    for viewer in $HS_VIEWERS; do
        [[ $viewer =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || config_error "HS_VIEWERS: '$viewer' is not a user name"
    done

    ((${#CONFIG_ERRORS[@]} == 0))
}

validate_wifi_settings() {
    local ssid_bytes psk_len
    ssid_bytes=$(printf '%s' "$HS_SSID" | wc -c)
    if [[ -z $HS_SSID ]]; then
        config_error "HS_SSID: missing; set the name of the Wi-Fi network (1 to 32 bytes)"
    elif ((ssid_bytes > 32)); then
        config_error "HS_SSID: must be at most 32 bytes long; it has $ssid_bytes"
    elif [[ $HS_SSID == *[[:cntrl:]]* ]]; then
        config_error "HS_SSID: must not contain control characters"
    fi

    psk_len=${#HS_PSK}
    if [[ -z $HS_PSK ]]; then
        config_error "HS_PSK: missing; set the Wi-Fi password (8 to 63 characters)"
    elif [[ $HS_PSK =~ ^[0-9A-Fa-f]{64}$ ]]; then
        : # a raw 256-bit key in hex
    elif ((psk_len < 8 || psk_len > 63)); then
        config_error "HS_PSK: must be 8 to 63 characters long (or 64 hex digits); it has $psk_len"
    elif [[ -n $(printf '%s' "$HS_PSK" | LC_ALL=C tr -d ' -~') ]]; then
        config_error "HS_PSK: may only contain printable ASCII characters (WPA2 passphrase rule)"
    fi

    [[ $HS_COUNTRY =~ ^[A-Z]{2}$ ]] ||
        config_error "HS_COUNTRY: must be your two-letter country code in capitals (like GB, DE, US), not '$HS_COUNTRY'"

    case $HS_BAND in
        bg) [[ $HS_CHANNEL =~ ^([1-9]|1[0-3])$ ]] ||
            config_error "HS_CHANNEL: must be 1 to 13 for HS_BAND=bg (2.4 GHz), not '$HS_CHANNEL'" ;;
        a) [[ $HS_CHANNEL =~ ^(36|40|44|48|149|153|157|161|165)$ ]] ||
            config_error "HS_CHANNEL: must be one of 36 40 44 48 149 153 157 161 165 for HS_BAND=a (5 GHz, no radar channels), not '$HS_CHANNEL'" ;;
        *) config_error "HS_BAND: must be 'bg' (2.4 GHz) or 'a' (5 GHz), not '$HS_BAND'" ;;
    esac

    case $HS_IPV6 in
        disabled | shared) ;;
        *) config_error "HS_IPV6: must be 'disabled' or 'shared', not '$HS_IPV6'" ;;
    esac
}

validate_dump_dir() {
    if [[ ! $HS_DUMP_DIR =~ ^/[A-Za-z0-9._/-]+$ || $HS_DUMP_DIR == *..* || $HS_DUMP_DIR == */ ]]; then
        config_error "HS_DUMP_DIR: must be an absolute path of letters, digits and . _ - / (no trailing /), not '$HS_DUMP_DIR'"
        return
    fi
    case $HS_DUMP_DIR/ in
        /home/* | /root/* | /run/user/*)
            config_error "HS_DUMP_DIR: the capture service cannot see home folders (ProtectHome); use e.g. /var/lib/homescope/dumps or a mount under /mnt or /srv" ;;
        /etc/* | /usr/* | /bin/* | /sbin/* | /lib/* | /boot/* | /proc/* | /sys/* | /dev/* | /tmp/* | /var/tmp/*)
            # The service has a private /tmp and a read-only /usr and /etc. Tests install into a
            # temporary tree (HS_ROOT) and are the only exception.
            if [[ -z ${HS_ROOT:-} ]]; then
                config_error "HS_DUMP_DIR: '$HS_DUMP_DIR' is a system or temporary folder; use e.g. /var/lib/homescope/dumps"
            fi ;;
    esac
}

print_config_errors() {
    local file=$1
    printf 'error: the configuration in %s has problems:\n' "$file" >&2
    printf '  - %s\n' "${CONFIG_ERRORS[@]}" >&2
}

# --- ring sizing -------------------------------------------------------------------------------------

# The most the ring can hold: every file at its size cap.
ring_size_kb() { printf '%s\n' $((10#$HS_FILES * 10#$HS_FILESIZE_KB)); }

# ring_fits_disk RING_KB AVAILABLE_KB: the ring may take at most RING_MAX_DISK_PCT of the space.
ring_fits_disk() {
    local ring_kb=$1 available_kb=$2
    ((ring_kb * 100 <= available_kb * RING_MAX_DISK_PCT))
}

# The path itself or its nearest existing parent (the dump folder may not exist yet).
nearest_existing_dir() {
    local path=$1
    while [[ ! -d $path && $path != / ]]; do
        path=$(dirname "$path")
    done
    printf '%s\n' "$path"
}

# Free kilobytes on the filesystem holding PATH.
disk_available_kb() {
    df -Pk -- "$(nearest_existing_dir "$1")" | awk 'NR == 2 { print $4 }'
}

# Kilobytes already used by capture files in DIR: on a re-run they count as available to the ring.
dumps_size_kb() {
    local dir=$1
    [[ -d $dir ]] || { echo 0; return; }
    find "$dir" -maxdepth 1 -type f -name 'hs_*.pcapng*' -printf '%k\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

kb_to_mib() { printf '%s\n' $((($1 + 1023) / 1024)); }

# ring_fit_problem RING_KB AVAILABLE_KB DIR: prints an explanation when the ring does not fit.
ring_fit_problem() {
    local ring_kb=$1 available_kb=$2 dir=$3
    ring_fits_disk "$ring_kb" "$available_kb" && return 0
    printf 'the capture ring can grow to %s MiB (HS_FILES=%s x HS_FILESIZE_KB=%s) but only %s MiB is free for %s, and the ring may take at most %s%% of it (%s MiB). Lower HS_FILES or HS_FILESIZE_KB, or put HS_DUMP_DIR on a bigger disk.\n' \
        "$(kb_to_mib "$ring_kb")" "$HS_FILES" "$HS_FILESIZE_KB" "$(kb_to_mib "$available_kb")" "$dir" \
        "$RING_MAX_DISK_PCT" "$(kb_to_mib $((available_kb * RING_MAX_DISK_PCT / 100)))"
}
