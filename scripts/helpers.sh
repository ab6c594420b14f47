# Shared shell helpers, sourced by agents.tmux and the scripts in this folder.

_helpers_dir="${BASH_SOURCE[0]%/*}"
[ "$_helpers_dir" = "${BASH_SOURCE[0]}" ] && _helpers_dir=.
case "$_helpers_dir" in
/*/scripts) PLUGIN_DIR="${_helpers_dir%/scripts}" ;;  # what cd && pwd gives, without a subshell (each key press)
*) PLUGIN_DIR="$(cd "$_helpers_dir/.." && pwd)" ;;
esac
case "$PLUGIN_DIR" in
*/.|*/./*|*/..|*/../*|*//*) PLUGIN_DIR="$(cd "$PLUGIN_DIR" && pwd)" ;;
esac
PACKAGE_DIR="$PLUGIN_DIR/python/src/agents_tmux"

# get_tmux_option NAME DEFAULT: the global option's value, or DEFAULT when unset or empty.
# Reading with a default (instead of `set -o` at load) means a reload never keeps a stale value.
get_tmux_option() {
	local value
	value="$(tmux show-option -gqv "$1")"
	if [ -n "$value" ]; then
		printf '%s' "$value"
	else
		printf '%s' "$2"
	fi
}

# option_is_on NAME DEFAULT: whether an on/off option is on. on, yes, true, 1
# (any case) are on and off, no, false, 0 off, as the Python side reads them;
# anything else is said on the status line and the default is used.
option_is_on() {
	local value
	value="$(get_tmux_option "$1" "$2")"
	case "$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')" in
	on | yes | true | 1) return 0 ;;
	off | no | false | 0) return 1 ;;
	esac
	say_bad_option "$1" "$value" "on or off" "$2"
	[ "$2" = on ]
}

# say_bad_option NAME VALUE EXPECTED DEFAULT: one line about an option's bad value.
say_bad_option() {
	local line="agents.tmux: $1 is '$2': expected $3; using $4"
	# No client yet (the server is starting): printed, run-shell shows it in the pane.
	tmux display-message "${line//#/##}" 2>/dev/null || printf '%s\n' "$line"
}

# plugin_python: the Python that runs stdlib-only helpers (the plugin's venv if ready).
plugin_python() {
	if [ -x "$PLUGIN_DIR/.venv/bin/python" ]; then
		printf '%s' "$PLUGIN_DIR/.venv/bin/python"
	else
		command -v python3
	fi
}

# private_dir DIR: make DIR (mode 700), or accept it only when it is a real folder
# (not a symlink) owned by this user that no one else can enter. Another user
# may pre-create a folder of that name in a shared /tmp: then it fails (1).
private_dir() {
	local dir="$1" mode
	[ -L "$dir" ] && return 1
	mkdir -m 700 "$dir" 2>/dev/null
	[ -d "$dir" ] && [ ! -L "$dir" ] && [ -O "$dir" ] || return 1
	mode="$(stat -c %a "$dir" 2>/dev/null || stat -f %Lp "$dir" 2>/dev/null)"
	[ "$mode" = 700 ]
}

# start_watcher PANE: have the tmux server's one screen watcher follow this pane.
# Marks the pane (@agent_watch: the hook kind, @agent_screen: the patterns)
# and starts the watcher, which exits at once if the server has one already.
# Exports AGENTS_TMUX_WAKE (the server's FIFO, which hooks poke).
# Returns 1 when there is nothing to watch with; stop_watching undoes it.
start_watcher() {
	local pane="$1" python dir server_pid
	[ -n "$pane" ] && [ -n "${AGENTS_TMUX_SCREEN:-}" ] && [ -n "${TMUX:-}" ] || return 1
	python="$(plugin_python)" || return 1
	[ -n "$python" ] || return 1
	dir="${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/agents-tmux-$(id -u)"
	if ! private_dir "$dir"; then
		printf 'agents.tmux: %s is not a private folder of yours (a symlink, another owner, or not mode 700): no screen watcher\n' "$dir" >&2
		return 1
	fi
	# $TMUX is "socket,server pid,session": one watcher (and FIFO) per server.
	server_pid="${TMUX#*,}"
	server_pid="${server_pid%%,*}"
	AGENTS_TMUX_WAKE="$dir/watch.$server_pid.fifo"
	export AGENTS_TMUX_WAKE
	# Marked before the watcher starts: a watcher about to leave looks once more.
	tmux set-option -pq -t "$pane" @agent_screen "$AGENTS_TMUX_SCREEN" \; \
		set-option -pq -t "$pane" @agent_watch "${AGENTS_TMUX_HOOKS:-none}" >/dev/null 2>&1 || return 1
	"$python" -I -S "$PACKAGE_DIR/watch.py" --server "$dir" </dev/null >/dev/null 2>&1 &
	# A watcher already serving may be asleep (every agent idle) for up to 30 s:
	# poke it so it reads the new pane now, as a hook would. Opened read-write,
	# the FIFO never blocks, even with no watcher reading it.
	[ -p "$AGENTS_TMUX_WAKE" ] && { printf '!' 1<>"$AGENTS_TMUX_WAKE"; } 2>/dev/null
	return 0
}

# stop_watching PANE: the agent ended; the server's watcher lets the pane go.
stop_watching() {
	tmux set-option -pqu -t "$1" @agent_watch \; set-option -pqu -t "$1" @agent_screen >/dev/null 2>&1
}

# agents_bin_dir: print the folder holding only an `agents` link to scripts/agents
# (scripts/ itself has a `test`); made when missing.
agents_bin_dir() {
	local bin="$PLUGIN_DIR/.bin"
	if [ ! -L "$bin/agents" ]; then
		mkdir -p "$bin" && ln -sfn "$PLUGIN_DIR/scripts/agents" "$bin/agents" || return 1
	fi
	printf '%s' "$bin"
}
