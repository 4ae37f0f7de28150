# shellcheck shell=bash
# Shared by dev/neo4j/start and dev/neo4j/stop. Not meant to be run directly.

NEO4J_DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NEO4J_MAIN_CLASS="org.idgraph.cdp.devneo4j.Main"

PORT="${NEO4J_BOLT_PORT:-7687}"
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  echo "dev/neo4j: NEO4J_BOLT_PORT must be a TCP port number, got '$PORT'" >&2
  exit 2
fi
STATE_DIR="${NEO4J_STATE_DIR:-${TMPDIR:-/tmp}/cdp-neo4j-$PORT}"
PID_FILE="$STATE_DIR/neo4j.pid"
LOG_FILE="$STATE_DIR/neo4j.log"
DATA_FILE="$STATE_DIR/datadir" # holds the path of the current temp data folder

log() { echo "dev/neo4j: $*"; }
err() { echo "dev/neo4j: $*" >&2; }

# bolt_answers: true if a Bolt server completes the handshake on 127.0.0.1:$PORT.
# Sends the Bolt magic 0x6060B017 and asks for 5.0-5.8, 4.4, 4.0-4.3 and 3.0;
# a Bolt server answers with 4 bytes naming the agreed version (00 00 00 00 = none).
bolt_answers() {
  local reply
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x03\x03\x04\x00\x00\x00\x03" >&3
    od -An -tx1 -N4 <&3' _ "$PORT" 2>/dev/null | tr -d ' \n')" || return 1
  [[ ${#reply} -eq 8 && "$reply" != "00000000" ]]
}

# port_open: true if anything accepts a TCP connection on 127.0.0.1:$PORT.
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$PORT" 2>/dev/null
}

# our_pid: prints the pid from $PID_FILE if that process is alive and is our JVM.
our_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qa -- "$NEO4J_MAIN_CLASS" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# remove_data: deletes the temp data folder(s) of this port's instance.
remove_data() {
  local d
  if [[ -f "$DATA_FILE" ]]; then
    d="$(cat "$DATA_FILE")"
    [[ -n "$d" && "$d" == "$STATE_DIR"/data.* ]] && rm -rf -- "$d"
    rm -f -- "$DATA_FILE"
  fi
  rm -rf -- "$STATE_DIR"/data.*
}
