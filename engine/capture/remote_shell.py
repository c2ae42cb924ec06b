"""The POSIX sh scripts homescope runs on the Pi through ssh: nothing is installed there, and they use only
the shell and coreutils (`stat`, `head`, `cat`, `id`), which every Debian and Raspberry Pi OS has.

- `capture_script`: finds dumpcap (or tcpdump), runs it writing to stdout, and stops it with SIGINT when
  its stdin closes, so that homescope stopping (or the connection ending) stops the capture cleanly and
  dumpcap still writes its final statistics block.
- `folder_script`: answers the dump follower's questions about a folder, one request per line on stdin
  (LIST, STAT, OPEN, READ, PEEK, CLOSE), with framed replies on stdout (see `RemoteFolder`).
- `file_script`: checks a file and sends it whole (for replay).

Every value that comes from the user (an interface, a capture filter, a path) is quoted with
`shlex.quote`; the scripts themselves hold no backslash, so any POSIX login shell passes them on as is.
Diagnostics go to stderr as `homescope-remote: WORD ...` lines, told apart from ssh's own messages.
"""

from __future__ import annotations

import shlex

from engine.capture.live import LiveOptions

MARK = "homescope-remote:"
DEFAULT_TOOL_DIRS = "$PATH:/usr/sbin:/sbin"  # tcpdump lives in /usr/sbin, which a user's PATH may lack

_WHO = 'who=$(id -un 2>/dev/null || echo "$USER")'


def capture_script(options: LiveOptions, tool_dirs: str | None = None) -> str:
    """Find the capture tool in `tool_dirs` (a PATH-like list; default: PATH, /usr/sbin, /sbin), run it on
    the interface writing to stdout, and stop it when stdin ends. Says on stderr which tool it runs
    (`tool NAME PATH`), or why it cannot (`no-tool`, `not-runnable PATH`), and the account (`user NAME`)."""
    names = ("dumpcap", "tcpdump") if options.tool == "auto" else (options.tool,)
    dumpcap = ["-q", "-i", options.interface]
    tcpdump = ["-U", "-n", "-i", options.interface]
    if options.snaplen:
        dumpcap += ["-s", str(options.snaplen)]
        tcpdump += ["-s", str(options.snaplen)]
    if options.buffer_mib:
        dumpcap += ["-B", str(options.buffer_mib)]
        tcpdump += ["-B", str(options.buffer_mib * 1024)]
    if options.capture_filter:
        dumpcap += ["-f", options.capture_filter]
    dumpcap += ["-w", "-"]
    tcpdump += ["-w", "-"]
    if options.capture_filter:
        tcpdump.append(options.capture_filter)
    dirs = DEFAULT_TOOL_DIRS if tool_dirs is None else shlex.quote(tool_dirs)
    return f"""export LC_ALL=C
{_WHO}
echo "{MARK} user $who" >&2
dirs={dirs}
tool=
path=
blocked=
for name in {" ".join(names)}; do
  oldifs=$IFS
  IFS=:
  for d in $dirs; do
    [ -n "$d" ] || continue
    if [ -f "$d/$name" ]; then
      if [ -x "$d/$name" ]; then tool=$name; path=$d/$name; break; fi
      [ -n "$blocked" ] || blocked=$d/$name
    fi
  done
  IFS=$oldifs
  if [ -n "$tool" ] || [ -n "$blocked" ]; then break; fi
done
if [ -z "$tool" ]; then
  if [ -n "$blocked" ]; then echo "{MARK} not-runnable $blocked" >&2; exit 126; fi
  echo "{MARK} no-tool" >&2
  exit 127
fi
echo "{MARK} tool $tool $path" >&2
if [ "$tool" = dumpcap ]; then
  set -- {shlex.join(dumpcap)}
else
  set -- {shlex.join(tcpdump)}
fi
exec 3<&0 </dev/null
"$path" "$@" &
pid=$!
{{ while read -r _; do :; done <&3; kill -INT "$pid"; }} >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"""


def folder_script(directory: str) -> str:
    """Serve the dump follower's requests about `directory` (see `engine.capture.remote_folder`)."""
    return f"""export LC_ALL=C
{_WHO}
d={shlex.quote(directory)}
group() {{ stat -L -c %G -- "$1" 2>/dev/null || echo -; }}
if [ ! -e "$d" ]; then
  p=$(dirname -- "$d")
  if [ -d "$p" ] && [ ! -x "$p" ]; then echo "FAIL parent-permission $who $(group "$p")"; exit 0; fi
  echo "FAIL missing $who -"
  exit 0
fi
if [ ! -d "$d" ]; then echo "FAIL not-a-directory $who -"; exit 0; fi
if [ ! -r "$d" ] || [ ! -x "$d" ] || ! cd -- "$d" 2>/dev/null; then
  echo "FAIL permission $who $(group "$d")"
  exit 0
fi
d=$(pwd)
nl='
'
pos=0
echo "HOMESCOPE-FOLDER 1 $who $(group .)"
listing() {{
  if [ ! -d "$d" ]; then echo "FAIL missing"; return; fi
  if [ ! -r . ] || [ ! -x . ]; then echo "FAIL permission"; return; fi
  set --
  for f in *; do
    case $f in *"$nl"*) continue ;; esac
    if [ -e "$f" ]; then set -- "$@" "$f"; fi
  done
  if [ $# -gt 0 ]; then stat -L -c 'F %s %Y %i %d %f %n' -- "$@" 2>/dev/null; fi
  echo END
}}
number() {{
  case $1 in ''|*[!0-9]*) return 1 ;; esac
}}
pad() {{
  cat /dev/zero 2>/dev/null
}}
while IFS= read -r line; do
  cmd=${{line%% *}}
  arg=${{line#"$cmd"}}
  arg=${{arg# }}
  case $cmd in
    LIST) listing ;;
    STAT) stat -L -c 'F %s %Y %i %d %f %n' -- "$arg" 2>/dev/null || echo NOFILE ;;
    OPEN)
      command exec 5<&- 2>/dev/null
      pos=0
      if [ ! -e "$arg" ]; then echo NOFILE
      elif [ ! -r "$arg" ] || ! command exec 5<"$arg" 2>/dev/null; then echo DENIED
      else echo "OPENED $(stat -L -c '%s %Y %i %d %f' /dev/fd/5)"; fi ;;
    READ)
      if ! number "$arg"; then echo "ERR $line"; continue; fi
      size=$(stat -L -c %s /dev/fd/5 2>/dev/null) || size=0
      n=$((size - pos))
      if [ "$n" -gt "$arg" ]; then n=$arg; fi
      if [ "$n" -lt 0 ]; then n=0; fi
      echo "DATA $n"
      if [ "$n" -gt 0 ]; then {{ head -c "$n" <&5; pad; }} 2>/dev/null | head -c "$n"; fi
      pos=$((pos + n))
      echo "END $(stat -L -c %s /dev/fd/5 2>/dev/null || echo 0)" ;;
    PEEK)
      want=${{arg%% *}}
      name=${{arg#"$want" }}
      if ! number "$want"; then echo "ERR $line"; continue; fi
      if [ ! -e "$name" ]; then echo NOFILE; continue; fi
      if [ ! -r "$name" ]; then echo DENIED; continue; fi
      size=$(stat -L -c %s -- "$name" 2>/dev/null) || size=0
      n=$size
      if [ "$n" -gt "$want" ]; then n=$want; fi
      case $name in /*) file=$name ;; *) file=./$name ;; esac
      echo "DATA $n"
      if [ "$n" -gt 0 ]; then {{ head -c "$n" <"$file"; pad; }} 2>/dev/null | head -c "$n"; fi
      echo "END $size" ;;
    CLOSE) command exec 5<&- 2>/dev/null; pos=0; echo CLOSED ;;
    *) echo "ERR $line" ;;
  esac
done
"""


def file_script(path: str) -> str:
    """Check `path` and send it to stdout; say its size (`size N`) or what is wrong (`error KIND ...`) on
    stderr first."""
    return f"""export LC_ALL=C
{_WHO}
f={shlex.quote(path)}
group() {{ stat -L -c %G -- "$1" 2>/dev/null || echo -; }}
if [ ! -e "$f" ]; then
  p=$(dirname -- "$f")
  if [ -d "$p" ] && [ ! -x "$p" ]; then echo "{MARK} error permission $who $(group "$p")" >&2; exit 3; fi
  echo "{MARK} error missing $who -" >&2
  exit 3
fi
if [ -d "$f" ]; then echo "{MARK} error is-a-directory $who -" >&2; exit 3; fi
if [ ! -r "$f" ]; then echo "{MARK} error permission $who $(group "$f")" >&2; exit 3; fi
echo "{MARK} size $(stat -L -c %s -- "$f")" >&2
case $f in /*) ;; *) f=./$f ;; esac
exec cat <"$f"
"""
