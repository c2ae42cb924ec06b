"""A pretend Raspberry Pi for the pi-setup scripts: stand-ins for the system commands they call.

Each stand-in is a small shell wrapper on PATH (`apt-get`, `nmcli`, `systemctl`, ...) that runs this
file with its own name. The commands keep their state in a JSON file (installed packages, accounts,
NetworkManager profiles, enabled units, ...), so the installer sees the effect of what it did: running it
twice shows whether the second run changes anything. Every call is appended to calls.jsonl with
whether it changed the pretend state, so tests can assert on exactly what was run.

Nothing here touches the real system: unknown queries (`getent passwd root`) fall through to the
real read-only command; anything else unknown fails loudly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FRESH_PI: dict[str, object] = {
    "packages": ["network-manager"],
    "users": {},  # name -> list of supplementary groups
    "groups": [],
    "nm": {},  # profile name -> {"type": ..., "props": {...}}
    "nm_active": [],
    "enabled": [],
    "active": ["NetworkManager.service"],
    "country": "",
    "links": {"wlan0": "dc:a6:32:00:00:01", "eth0": "dc:a6:32:00:00:02", "lo": "00:00:00:00:00:00"},
    "addrs": {},
    "stations": [],
    "journal": [],
    "debconf": [],
}

# What apt would pull in as well (only what the installer looks at).
DEPENDENCIES = {"tshark": ["wireshark-common"]}

COMMANDS = [
    "apt-get",
    "dpkg-query",
    "debconf-set-selections",
    "getent",
    "id",
    "useradd",
    "groupadd",
    "usermod",
    "userdel",
    "groupdel",
    "nmcli",
    "systemctl",
    "raspi-config",
    "iw",
    "rfkill",
    "ip",
    "dumpcap",
    "setcap",
    "journalctl",
    "python3",
]


class FakeCommandError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class FakeSystem:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.state_file = state_dir / "state.json"
        self.state = json.loads(self.state_file.read_text())
        self.changed = False

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=1, sort_keys=True))

    def log(self, name: str, argv: list[str]) -> None:
        entry = {
            "cmd": name,
            "argv": argv,
            "changed": self.changed,
            "env_frontend": os.environ.get("DEBIAN_FRONTEND"),
        }
        with (self.dir / "calls.jsonl").open("a") as f:
            f.write(json.dumps(entry) + "\n")

    def mutate(self) -> None:
        self.changed = True

    # --- packages --------------------------------------------------------------------------------------

    def apt_get(self, argv: list[str]) -> None:
        if argv[:1] == ["update"]:
            self.mutate()
            return
        if argv[:1] == ["install"]:
            for pkg in (a for a in argv[1:] if not a.startswith("-")):
                for each in [pkg, *DEPENDENCIES.get(pkg, [])]:
                    if each not in self.state["packages"]:
                        self.state["packages"].append(each)
            self.mutate()
            return
        raise FakeCommandError(f"apt-get: unexpected {argv}")

    def dpkg_query(self, argv: list[str]) -> None:
        pkg = argv[-1]
        if pkg in self.state["packages"]:
            print("install ok installed", end="")
            return
        raise FakeCommandError(f"dpkg-query: no packages found matching {pkg}")

    def debconf_set_selections(self, argv: list[str]) -> None:
        self.state["debconf"].append(sys.stdin.read().strip())
        self.mutate()

    # --- accounts --------------------------------------------------------------------------------------

    def getent(self, argv: list[str]) -> None:
        db, name = argv
        if db == "passwd" and name in self.state["users"]:
            print(f"{name}:x:999:999::/nonexistent:/usr/sbin/nologin")
            return
        if db == "group" and name in self.state["groups"]:
            print(f"{name}:x:999:")
            return
        os.execv("/usr/bin/getent", ["getent", *argv])

    def id(self, argv: list[str]) -> None:
        if argv[:1] == ["-nG"] and argv[1] in self.state["users"]:
            print(" ".join([argv[1], *self.state["users"][argv[1]]]))
            return
        os.execv("/usr/bin/id", ["id", *argv])

    def useradd(self, argv: list[str]) -> None:
        name = argv[-1]
        self.state["users"][name] = []
        if "--user-group" in argv:
            self.state["groups"].append(name)
        self.mutate()

    def groupadd(self, argv: list[str]) -> None:
        self.state["groups"].append(argv[-1])
        self.mutate()

    def usermod(self, argv: list[str]) -> None:
        assert argv[:3] == ["-a", "-G", argv[2]], argv
        self.state["users"].setdefault(argv[3], []).append(argv[2])
        self.mutate()

    def userdel(self, argv: list[str]) -> None:
        self.state["users"].pop(argv[-1])
        self.mutate()

    def groupdel(self, argv: list[str]) -> None:
        self.state["groups"].remove(argv[-1])
        self.mutate()

    # --- NetworkManager --------------------------------------------------------------------------------

    def nmcli(self, argv: list[str]) -> None:
        fields = None
        while argv and argv[0].startswith("-"):
            opt = argv.pop(0)
            if opt in ("-g", "--get-values", "-f", "--fields"):
                fields = argv.pop(0)
            elif opt in ("--escape", "-e"):
                argv.pop(0)
            elif opt not in ("--show-secrets", "-s", "-t", "--terse"):
                raise FakeCommandError(f"nmcli: unexpected option {opt}")
        nm = self.state["nm"]
        sub, action, rest = argv[0], argv[1], argv[2:]
        assert sub in ("connection", "c"), argv
        if action == "show":
            if not rest:
                assert fields == "NAME", fields
                for name in nm:
                    print(name)
                return
            name = rest[0]
            if name not in nm:
                raise FakeCommandError(f"Error: {name} - no such connection profile.", 10)
            for field in (fields or "").split(","):
                if field == "GENERAL.STATE":
                    print("activated" if name in self.state["nm_active"] else "")
                else:
                    print(nm[name]["props"].get(field, ""))
            return
        if action == "add":
            assert rest[0] == "type" and rest[2] == "con-name", rest
            name, props = rest[3], rest[4:]
            if name in nm:
                raise FakeCommandError(
                    f"fake nmcli: profile {name} exists already (NetworkManager would make a duplicate)"
                )
            nm[name] = {"type": rest[1], "props": dict(zip(props[::2], props[1::2], strict=True))}
        elif action == "modify":
            name = rest[0]
            if name not in nm:
                raise FakeCommandError(f"Error: unknown connection '{name}'.", 10)
            nm[name]["props"].update(dict(zip(rest[1::2], rest[2::2], strict=True)))
        elif action == "up":
            if rest[0] not in nm:
                raise FakeCommandError(f"Error: unknown connection '{rest[0]}'.", 10)
            if rest[0] not in self.state["nm_active"]:
                self.state["nm_active"].append(rest[0])
        elif action == "delete":
            nm.pop(rest[0])
            if rest[0] in self.state["nm_active"]:
                self.state["nm_active"].remove(rest[0])
        else:
            raise FakeCommandError(f"nmcli: unexpected {argv}")
        self.mutate()

    # --- systemd ---------------------------------------------------------------------------------------

    @staticmethod
    def _unit(name: str) -> str:
        return name if "." in name else name + ".service"

    def systemctl(self, argv: list[str]) -> None:
        quiet = "--quiet" in argv or "-q" in argv
        argv = [a for a in argv if a not in ("--quiet", "-q", "--no-pager")]
        action, units = argv[0], [self._unit(u) for u in argv[1:] if not u.startswith("-")]
        enabled, active = self.state["enabled"], self.state["active"]
        if action == "is-active":
            ok = units[0] in active
            if not quiet:
                print("active" if ok else "inactive")
            if not ok:
                raise FakeCommandError("", 3)
            return
        if action == "is-enabled":
            ok = units[0] in enabled
            print("enabled" if ok else "disabled")
            if not ok:
                raise FakeCommandError("", 1)
            return
        if action == "show":
            prop = argv[argv.index("-p") + 1]
            unit = units[-1]
            values = {
                "ActiveState": "active" if unit in active else "inactive",
                "SubState": "running" if unit in active else "dead",
                "ActiveEnterTimestamp": "Mon 2025-06-02 10:00:00 UTC" if unit in active else "",
                "NRestarts": "0",
                "NextElapseUSecRealtime": "Tue 2025-06-03 00:12:00 UTC",
            }
            print(values.get(prop, ""))
            return
        for unit in units:
            if action == "enable" and unit not in enabled:
                enabled.append(unit)
            elif action == "disable" and unit in enabled:
                enabled.remove(unit)
            elif action in ("start", "restart") and unit not in active:
                active.append(unit)
            elif action == "stop" and unit in active:
                active.remove(unit)
        if action not in ("enable", "disable", "start", "restart", "stop", "daemon-reload"):
            raise FakeCommandError(f"systemctl: unexpected {argv}")
        self.mutate()

    def journalctl(self, argv: list[str]) -> None:
        for line in self.state["journal"]:
            print(line)

    # --- radio and interfaces --------------------------------------------------------------------------

    def raspi_config(self, argv: list[str]) -> None:
        if argv == ["nonint", "get_wifi_country"]:
            print(self.state["country"])
            return
        if argv[:2] == ["nonint", "do_wifi_country"]:
            self.state["country"] = argv[2]
            self.mutate()
            return
        raise FakeCommandError(f"raspi-config: unexpected {argv}")

    def iw(self, argv: list[str]) -> None:
        if argv == ["reg", "get"]:
            print(f"global\ncountry {self.state['country'] or '00'}: DFS-UNSET")
        elif argv[:2] == ["reg", "set"]:
            self.state["country"] = argv[2]
            self.mutate()
        elif argv[:1] == ["dev"] and argv[2:] == ["station", "dump"]:
            for mac in self.state["stations"]:
                print(f"Station {mac} (on {argv[1]})\n\tinactive time:\t10 ms\n\trx bytes:\t1000")
        else:
            raise FakeCommandError(f"iw: unexpected {argv}")

    def rfkill(self, argv: list[str]) -> None:
        if argv == ["list", "wifi"]:
            print("0: phy0: Wireless LAN\n\tSoft blocked: no\n\tHard blocked: no")
        elif argv == ["unblock", "wifi"]:
            self.mutate()
        else:
            raise FakeCommandError(f"rfkill: unexpected {argv}")

    def ip(self, argv: list[str]) -> None:
        argv = [a for a in argv if a != "-o"]
        links = self.state["links"]
        if argv[:2] in (["link", "show"], ["addr", "show"]) and argv[2] == "dev":
            dev = argv[3]
            if dev not in links:
                raise FakeCommandError(f'Device "{dev}" does not exist.')
            if argv[0] == "link":
                print(
                    f"2: {dev}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT "
                    f"group default qlen 1000\\    link/ether {links[dev]} brd ff:ff:ff:ff:ff:ff"
                )
            for addr in self.state["addrs"].get(dev, []):
                print(f"3: {dev}    inet {addr}/24 brd 10.0.0.255 scope global {dev}")
            return
        raise FakeCommandError(f"ip: unexpected {argv}")

    # --- capture tools ---------------------------------------------------------------------------------

    def dumpcap(self, argv: list[str]) -> None:
        if "-d" in argv:
            flt = argv[argv.index("-f") + 1]
            if "INVALID" in flt:
                raise FakeCommandError(f"dumpcap: Invalid capture filter \"{flt}\" for interface 'wlan0'.")
            print("(000) ret      #262144")
            return
        raise FakeCommandError(f"fake dumpcap only compiles filters (-d), got {argv}")

    def setcap(self, argv: list[str]) -> None:
        self.mutate()

    # --- Python ----------------------------------------------------------------------------------------

    def python3(self, argv: list[str]) -> None:
        if argv[:2] != ["-m", "venv"]:
            raise FakeCommandError(f"fake python3 only makes virtual environments, got {argv}")
        venv = Path(argv[2])
        (venv / "bin").mkdir(parents=True)
        wrapper = (self.dir / "shims" / "python3").read_text().replace(" python3 ", " venv-python ")
        (venv / "bin" / "python").write_text(wrapper)
        (venv / "bin" / "python").chmod(0o755)
        self.mutate()

    def venv_python(self, argv: list[str]) -> None:
        if argv[:3] != ["-m", "pip", "install"]:
            raise FakeCommandError(f"fake venv python only installs, got {argv}")
        # which venv: the wrapper was run as VENV/bin/python
        venv = Path(os.environ["FAKE_ARGV0"]).resolve().parent.parent
        (venv / "bin" / "homescope").write_text("#!/bin/sh\necho homescope\n")
        (venv / "bin" / "homescope").chmod(0o755)
        self.mutate()


def install_shims(state_dir: Path, state: dict[str, object] | None = None) -> Path:
    """Create the state and one wrapper per command in state_dir/shims; returns the shim folder."""
    shims = state_dir / "shims"
    shims.mkdir(parents=True, exist_ok=True)
    (state_dir / "state.json").write_text(json.dumps(state if state is not None else FRESH_PI, indent=1))
    (state_dir / "calls.jsonl").touch()
    for name in COMMANDS:
        wrapper = shims / name
        wrapper.write_text(
            "#!/bin/sh\n"
            f'FAKE_ARGV0="$0" exec {sys.executable} {Path(__file__).resolve()} {state_dir} {name} "$@"\n'
        )
        wrapper.chmod(0o755)
    return shims


def main() -> int:
    state_dir, name, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    fake = FakeSystem(state_dir)
    handler = getattr(fake, name.replace("-", "_"))
    code = 0
    try:
        handler(list(argv))
    except FakeCommandError as err:
        if str(err):
            print(str(err), file=sys.stderr)
        code = err.code
    fake.save()
    fake.log(name, argv)
    return code


if __name__ == "__main__":
    sys.exit(main())
