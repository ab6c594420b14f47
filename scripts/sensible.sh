# shellcheck shell=bash
# scripts/sensible.sh: sourced by agents.tmux (not run on its own). Defines one function,
# agents_apply_sensible, which sets the few tmux options that AI agents need, in the spirit
# of tmux-sensible: an option is changed ONLY while it still holds tmux's own default value,
# so anything the user set in their tmux.conf wins.
#
# agents.tmux calls it when the tmux option @agents-sensible is on (the default).
#
# What it changes, and when:
#   escape-time        500  -> 10      Esc must reach the agent at once (Esc interrupts Claude Code).
#                                      (tmux 3.5+ already defaults to 10, so nothing to do there.)
#   focus-events       off  -> on      Claude Code tracks whether its pane has focus.
#   extended-keys      off  -> on      tmux 3.2+: Shift+Enter and other modified keys reach the agent.
#   terminal-features  + 'xterm*:extkeys'
#                                      tmux 3.2+, only while extended-keys is not off and no entry
#                                      already mentions extkeys: lets tmux read modified keys from
#                                      the outer terminal. Added once at a new index, never appended
#                                      with `set -a`, so it cannot pile up.
#   history-limit      2000 -> 50000   agent transcripts are long. tmux applies history-limit to
#                                      panes created AFTER the change; existing panes keep theirs.
# terminal-features and focus-events are read when a client attaches: reattach to see their effect.
#
# Idempotent: once an option has been changed it no longer holds the default, so later calls
# (a reload, prefix + r, or ten calls in a row) leave it alone. That is deliberate: after the first
# run, 10 is no longer "the default", and a value the user sets later is theirs to keep.
# It calls `tmux` directly: at most three tmux processes per call (two reads, one batched write).

agents_apply_sensible() {
    local server_options history_limit line name value index
    local escape_time="" focus_events="" extended_keys=""
    local has_extkeys=0 last_feature_index=-1
    local -a commands=()

    # One read for every server option: older tmux simply lacks the newer names (left empty).
    server_options=$(tmux show-options -s 2>/dev/null) || return 0
    while IFS= read -r line; do
        name=${line%% *}
        value=${line#* }
        case $name in
            escape-time) escape_time=$value ;;
            focus-events) focus_events=$value ;;
            extended-keys) extended_keys=$value ;;
            terminal-features\[*\])
                index=${name#*[}
                index=${index%]}
                if [[ $index =~ ^[0-9]+$ ]] && ((index > last_feature_index)); then
                    last_feature_index=$index
                fi
                if [[ $value == *extkeys* ]]; then
                    has_extkeys=1
                fi
                ;;
        esac
    done <<<"$server_options"
    history_limit=$(tmux show-options -gv history-limit 2>/dev/null)

    # Each change is appended as its own tmux command; ';' separates them in a single call.
    if [[ $escape_time == 500 ]]; then
        commands+=(set-option -s escape-time 10 ';')
    fi
    if [[ $focus_events == off ]]; then
        commands+=(set-option -s focus-events on ';')
    fi
    if [[ $extended_keys == off ]]; then
        commands+=(set-option -s extended-keys on ';')
        extended_keys=on
    fi
    # extended-keys is empty on tmux < 3.2, which has no terminal-features either.
    if [[ -n $extended_keys && $extended_keys != off ]] && ((has_extkeys == 0)); then
        commands+=(set-option -s "terminal-features[$((last_feature_index + 1))]" 'xterm*:extkeys' ';')
    fi
    if [[ $history_limit == 2000 ]]; then
        commands+=(set-option -g history-limit 50000 ';')
    fi

    if ((${#commands[@]} == 0)); then
        return 0
    fi
    unset 'commands[${#commands[@]}-1]' # drop the trailing ';'
    tmux "${commands[@]}"
}
