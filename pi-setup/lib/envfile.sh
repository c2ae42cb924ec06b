# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# The format of /etc/homescope/capture.env and /etc/homescope/pi-setup.env: one KEY="value" per line,
# values without " \ $ or backquotes. The capture and retention scripts read these files with
# read_env_file rather than sourcing them, so a settings file can never run code in the service.
# Installed next to the scripts (/usr/local/lib/homescope/lib/envfile.sh), so it must stay standalone.

# What the capture service reads; install.sh writes exactly these keys.
CAPTURE_ENV_KEYS=(
    HS_CAPTURE_IFACE HS_SNAPLEN HS_DUMP_DIR HS_ROTATE_S HS_FILES HS_FILESIZE_KB HS_FILTER
    HS_RETENTION_DAYS HS_MIN_FREE_PCT
)

# render_env_file KEY...: prints KEY="value" lines for the named variables.
render_env_file() {
    local key
    for key in "$@"; do
        printf '%s="%s"\n' "$key" "${!key-}"
    done
}

# read_env_file FILE KEY...: sets each KEY found in FILE and ignores the others; fails, naming the
# line, on a line it cannot read.
read_env_file() {
    local file=$1 line n=0 key value wanted
    shift
    local re='^([A-Z][A-Z0-9_]*)="([^"\\$`]*)"$'
    [[ -r $file ]] || { printf 'cannot read %s\n' "$file" >&2; return 1; }
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        if [[ ! $line =~ $re ]]; then
            printf '%s:%s: cannot read this line (expected KEY="value")\n' "$file" "$n" >&2
            return 1
        fi
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        for wanted in "$@"; do
            if [[ $wanted == "$key" ]]; then printf -v "$key" '%s' "$value"; fi
        done
    done <"$file"
    return 0
}
