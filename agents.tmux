#!/usr/bin/env bash
# agents.tmux: run several AI coding agents side by side, each on its own git
# worktree, with their state in the status bar.
#
# TPM runs this file when tmux loads its config (run-shell by hand works the
# same). It only reads options, binds keys, sets one hook and rewrites the
# status formats; every step is idempotent, so reloading the config any
# number of times leaves exactly one of each.

CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$CURRENT_DIR/scripts/helpers.sh"
source "$CURRENT_DIR/scripts/variables.sh"
source "$CURRENT_DIR/scripts/status.sh"
source "$CURRENT_DIR/scripts/sensible.sh"

AGENTS_CLI="$CURRENT_DIR/scripts/agents"

# A word for a shell line inside a tmux double-quoted string: shell-quoted,
# then escaped for tmux ('#' doubled since run-shell expands formats).
tmux_shell_word() {
	local word
	word="$(printf '%q' "$1")"
	word="${word//\\/\\\\}"
	word="${word//\"/\\\"}"
	word="${word//\$/\\\$}"
	word="${word//#/##}"
	printf '%s' "$word"
}

# bind_plugin_key OPTION DEFAULT COMMAND...: bind the key the option names.
# A key changed since the last load is unbound first, so no stale binding stays.
bind_plugin_key() {
	local option="$1" default="$2" key previous
	shift 2
	key="$(get_tmux_option "$option" "$default")"
	previous="$(tmux show-option -gqv "${option}-bound")"
	if [ -n "$previous" ] && [ "$previous" != "$key" ]; then
		tmux unbind-key -T prefix "$previous" 2>/dev/null
	fi
	if [ -n "$key" ] && [ "$key" != "none" ]; then
		tmux bind-key -T prefix "$key" "$@"
		tmux set-option -gq "${option}-bound" "$key"
	else
		tmux set-option -gqu "${option}-bound"
	fi
}

bind_keys() {
	local cli ask
	cli="$(tmux_shell_word "$AGENTS_CLI")"
	ask="$(tmux_shell_word "$CURRENT_DIR/scripts/ask-task")"
	# The typed task goes into a tmux buffer (%%% escapes it for the double
	# quotes) and the CLI reads it from there: it never reaches a shell.
	# scripts/ask-task checks the pane's folder is a repository before it asks.
	bind_plugin_key "$spawn_key_option" "$spawn_key_default" \
		run-shell -b "$ask '#{pane_id}' '#{client_name}'"
	bind_plugin_key "$jump_key_option" "$jump_key_default" \
		run-shell -b "$cli jump --from-key --client '#{client_name}'"
	bind_plugin_key "$menu_key_option" "$menu_key_default" \
		run-shell -b "$cli menu --from-key --client '#{client_name}' --pane '#{pane_id}'"
	# The team key checks and asks the same way (its own buffer), then
	# starts the default layout (`agents team`, [layouts.team]).
	bind_plugin_key "$team_key_option" "$team_key_default" \
		run-shell -b "$ask '#{pane_id}' '#{client_name}' team"
}

set_hooks() {
	# A pane whose program died (remain-on-exit) keeps its options: mark the
	# agent exited. A fixed index, so a reload replaces instead of adding.
	tmux set-hook -g 'pane-died[4210]' "if-shell -F '#{@agent_name}' 'set-option -p @agent_state exited'"
}

publish() {
	# For other plugins, scripts and the user: where the command line lives.
	tmux set-option -gq @agents-cli "$AGENTS_CLI"
	if option_is_on "$path_option" "$path_default"; then
		# `agents ...` in any new pane: a folder holding only that command is
		# put first on the server's PATH (scripts/ itself has a `test`).
		local bin path
		bin="$(agents_bin_dir)" || return 0
		path="$(tmux show-environment -g PATH 2>/dev/null)"
		path="${path#PATH=}"
		[ -n "$path" ] || path="$PATH"
		case ":$path:" in
		*":$bin:"*) ;;
		*) tmux set-environment -g PATH "$bin:$path" ;;
		esac
	fi
}

warm_up() {
	# Build the Python environment now, in the background, so the first
	# key press does not wait for it.
	if [ ! -x "$CURRENT_DIR/.venv/bin/python" ]; then
		("$AGENTS_CLI" --prepare </dev/null >/dev/null 2>&1 &)
	fi
}

tmux_is_recent_enough() {
	# Formats that read pane options across panes need tmux 3.2 or newer.
	local version
	version="$(tmux display-message -p '#{version}' 2>/dev/null)"
	case "$version" in
	next-* | master | "") return 0 ;;
	esac
	[ "$(printf '%s\n' "$version" 3.2 | sort -V | head -n 1)" = "3.2" ]
}

auto_restore() {
	# @agents-restore on: bring back the agents that are not running, once per
	# tmux server start. The guard is a global option, which lives exactly as
	# long as the server: a reload finds it set and does nothing.
	option_is_on "$restore_option" "$restore_default" || return 0
	[ -n "$(tmux show-option -gqv @agents-restore-started)" ] && return 0
	tmux set-option -gq @agents-restore-started "$(date +%s)"
	("$AGENTS_CLI" restore --all --quiet --wait-session 10 </dev/null >/dev/null 2>&1 &)
}

main() {
	if ! tmux_is_recent_enough; then
		tmux display-message "agents.tmux needs tmux 3.2 or newer (this is $(tmux -V)); it did not load"
		return 0
	fi
	if option_is_on "$sensible_option" "$sensible_default"; then
		agents_apply_sensible
	fi
	bind_keys
	set_hooks
	update_status_formats
	publish
	warm_up
	auto_restore
}
main
