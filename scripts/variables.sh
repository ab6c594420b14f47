# Every tmux option agents.tmux reads, with its default. Set any of them in
# tmux.conf before the plugin loads, e.g. `set -g @agents-key 'N'`.

# Keys (all in the prefix table). Empty means the default key; `none` leaves it unbound.
spawn_key_option="@agents-key"                  # ask for a task, spawn an agent
spawn_key_default="A"
jump_key_option="@agents-jump-key"              # jump to the agent waiting longest
jump_key_default="J"
menu_key_option="@agents-menu-key"              # menu of all agents
menu_key_default="a"
team_key_option="@agents-team-key"              # start the default team layout
team_key_default=""

# Spawning (these override the TOML config; see README).
spawn_target_option="@agents-spawn-target"      # split-h | split-v | window
# @agents-min-pane (40x8) and @agents-layout (tiled): no spawn makes a smaller pane (read by the CLI).
prompt_option="@agents-prompt"                  # the prompt text of the spawn key
prompt_default="task:"

# Status bar.
status_position_option="@agents-status-position" # where the segment goes when no
status_position_default="right"                  # #{agents_status} placeholder: right | left | none
window_status_option="@agents-window-status"     # icon of each window's agents in the window list
window_status_default="on"
status_item_option="@agents-status-item"         # one state's entry; {color} {icon} {count}
status_item_default="#[fg={color}]{icon} {count}#[fg=default] "
# Icons and colours per state: @agents-icon-<state>, @agents-color-<state>.
agent_states="starting working waiting error idle exited"
icon_starting_default="◌"
icon_working_default="⚙"
icon_waiting_default="⏳"
icon_error_default="⚠"
icon_idle_default="✓"
icon_exited_default="✗"
color_starting_default="colour244"
color_working_default="colour39"
color_waiting_default="colour214"
color_error_default="colour196"
color_idle_default="colour76"
color_exited_default="colour244"
# Agents whose setup command failed: @agents-icon-setup-failed, @agents-color-setup-failed.
icon_setup_failed_default="⚠ setup"
color_setup_failed_default="colour196"

# Behaviour.
sensible_option="@agents-sensible"               # set escape-time, focus-events, extended-keys...
sensible_default="on"                            # only where still at tmux's default
path_option="@agents-path"                       # put the `agents` command on the PATH of new panes
path_default="on"
restore_option="@agents-restore"                 # restore agents that are not running when the
restore_default="off"                            # tmux server starts (agents restore --all)
log_option="@agents-log"                         # pipe each new agent pane's output to a log file
log_default="off"                                # under $XDG_STATE_HOME/agents-tmux (agents log)
