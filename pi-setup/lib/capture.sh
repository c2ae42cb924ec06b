# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# What install.sh writes for the capture service: the env file, the systemd drop-ins that follow the
# dump folder, the record of what was installed, and which repository files go where. The render_*
# functions are pure (they print text from the HS_* settings), so tests can check them directly.

CAPTURE_UNIT=homescope-capture.service
RETENTION_UNIT=homescope-retention.service
RETENTION_TIMER=homescope-retention.timer
UNIT_FILES=("$CAPTURE_UNIT" "$RETENTION_UNIT" "$RETENTION_TIMER")

# The keys of /etc/homescope/pi-setup.env: what uninstall.sh and status.sh need to know.
INSTALL_STATE_KEYS=(HS_MODE HS_AP HS_WIFI_IFACE HS_UPLINK_IFACE HS_DUMP_DIR HS_VENV)

# Repository file -> installed path (under LIBEXEC_DIR) and mode. The units name these paths.
libexec_files() {
    printf '%s\n' \
        "bin/homescope-capture bin/homescope-capture 0755" \
        "bin/homescope-retention bin/homescope-retention 0755" \
        "lib/envfile.sh lib/envfile.sh 0644"
}

render_capture_env() {
    printf '%s\n' \
        "# homescope capture settings, written by pi-setup/install.sh from your config file." \
        "# Edit that file and run install.sh again rather than editing this one."
    render_env_file "${CAPTURE_ENV_KEYS[@]}"
}

# render_install_state AP(yes|no)
render_install_state() {
    local HS_AP=$1
    printf '%s\n' "# What pi-setup/install.sh set up; uninstall.sh and status.sh read this."
    render_env_file "${INSTALL_STATE_KEYS[@]}"
}

# The units ship with the default dump folder; this drop-in names the configured one, so a dump folder
# on a USB disk is writable for the service and mounted before it starts.
render_dump_dir_dropin() {
    printf '%s\n' \
        "# Written by pi-setup/install.sh from HS_DUMP_DIR." \
        "[Unit]" \
        "RequiresMountsFor=$HS_DUMP_DIR" \
        "" \
        "[Service]" \
        "ReadWritePaths=$HS_DUMP_DIR"
}
