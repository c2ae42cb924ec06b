# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# Idempotent building blocks: each one looks first and only calls `run` when something differs, so a
# second install run prints no commands at all.

FILE_CHANGED=0  # set by the ensure_file_* functions: 1 when they (would) write the file

# "mode owner group" of a path, e.g. "750 homescope homescope".
path_mode_owner() { stat -c '%a %U %G' -- "$1" 2>/dev/null; }

# ensure_dir PATH MODE OWNER GROUP
ensure_dir() {
    local path=$1 mode=$2 owner=$3 group=$4
    if [[ ! -d $path ]]; then
        run install -d -m "$mode" -o "$owner" -g "$group" -- "$path"
    elif [[ $(path_mode_owner "$path") != "${mode#0} $owner $group" ]]; then
        run chown -- "$owner:$group" "$path"
        run chmod -- "$mode" "$path"
    fi
}

# ensure_dir_exists PATH: creates a missing folder (root's, 0755) but leaves an existing one as it is:
# for shared places such as /usr/local/bin.
ensure_dir_exists() {
    if [[ ! -d $1 ]]; then
        run install -d -m 0755 -- "$1"
    fi
}

# ensure_file_copy SRC DEST MODE OWNER GROUP: DEST has SRC's content, the mode and the owner.
ensure_file_copy() {
    local src=$1 dest=$2 mode=$3 owner=$4 group=$5
    FILE_CHANGED=0
    if [[ ! -f $dest ]] || ! cmp -s -- "$src" "$dest"; then
        if ((DRY_RUN)) && [[ -f $dest ]]; then
            diff -u --label "$dest (now)" --label "$dest (new)" -- "$dest" "$src" || true
        fi
        run install -D -m "$mode" -o "$owner" -g "$group" -- "$src" "$dest"
        FILE_CHANGED=1
    elif [[ $(path_mode_owner "$dest") != "${mode#0} $owner $group" ]]; then
        run chown -- "$owner:$group" "$dest"
        run chmod -- "$mode" "$dest"
        FILE_CHANGED=1
    fi
}

# ensure_file_content DEST MODE OWNER GROUP < CONTENT: like ensure_file_copy, for rendered text.
# Feed it with `< <(render ...)`, not `render | ensure_file_content`: a pipeline would run it in a
# subshell and lose FILE_CHANGED and the count of changes.
ensure_file_content() {
    local dest=$1 rendered
    [[ -n $GENERATED_DIR ]] || die "internal: make_generated_dir was not called"
    rendered="$GENERATED_DIR/$(basename -- "$dest")"
    cat >"$rendered"
    ensure_file_copy "$rendered" "$@"
    rm -f -- "$rendered"
}

ensure_file_gone() {
    if [[ -e $1 || -L $1 ]]; then
        run rm -f -- "$1"
    fi
}

# ensure_symlink TARGET LINK
ensure_symlink() {
    local target=$1 link=$2
    if [[ $(readlink -- "$link" 2>/dev/null) != "$target" ]]; then
        run ln -sfn -- "$target" "$link"
    fi
}

# --- packages ------------------------------------------------------------------------------------------

package_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# ensure_packages PKG...: installs the missing ones, without questions (DEBIAN_FRONTEND in the env).
ensure_packages() {
    local pkg missing=()
    for pkg in "$@"; do
        package_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# --- accounts -------------------------------------------------------------------------------------------

ensure_system_group() {
    if ! getent group "$1" >/dev/null; then
        run groupadd --system "$1"
    fi
}

# ensure_system_user NAME HOME: a locked system account with its own group and no login shell.
ensure_system_user() {
    local name=$1 home=$2
    if ! getent passwd "$name" >/dev/null; then
        run useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin \
            --comment "homescope capture" "$name"
    fi
}

# ensure_user_in_group USER GROUP
ensure_user_in_group() {
    local user=$1 group=$2
    if ! getent passwd "$user" >/dev/null; then
        warn "user '$user' (HS_VIEWERS) does not exist; skipped"
        return 0
    fi
    if ! grep -Fxq -- "$group" <<<"$(id -nG "$user" | tr ' ' '\n')"; then
        run usermod -a -G "$group" "$user"
        log "  $user can read the dumps after logging in again"
    fi
}

# --- systemd --------------------------------------------------------------------------------------------

ensure_unit_enabled() {
    if [[ $(systemctl is-enabled "$1" 2>/dev/null) != enabled ]]; then
        run systemctl enable "$1"
    fi
}

# ensure_unit_running UNIT RESTART: starts the unit, or restarts it when RESTART is 1 (its settings
# changed) so the new settings apply.
ensure_unit_running() {
    local unit=$1 restart=$2
    if ! systemctl is-active --quiet "$unit"; then
        run systemctl start "$unit"
    elif ((restart)); then
        run systemctl restart "$unit"
    fi
}
