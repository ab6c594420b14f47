# The status bar segment and the window-list icon, as pure tmux formats.
#
# Sourced by agents.tmux. Nothing here runs when the status bar is drawn:
# the formats read every pane's @agent_state option inside tmux itself
# (#{S:#{W:#{P:...}}} loops over all panes, #{n:...} counts), and setting a
# pane option redraws the clients, so the bar changes the moment a hook
# reports a new state, at the cost of no process at all.

# state_count_format STATE: how many panes of the server are in STATE.
state_count_format() {
	printf '#{n:#{S:#{W:#{P:#{?#{==:#{@agent_state},%s},x,}}}}}' "$1"
}

# agents_status_format: the segment, e.g. "⚙ 2 ⏳ 1 ⚠ 1 ✓ 3 " (zero counts hidden).
agents_status_format() {
	local item state icon color count entry format=""
	item="$(get_tmux_option "$status_item_option" "$status_item_default")"
	for state in $agent_states; do
		eval "icon=\"\$(get_tmux_option @agents-icon-$state \"\$icon_${state}_default\")\""
		eval "color=\"\$(get_tmux_option @agents-color-$state \"\$color_${state}_default\")\""
		format+="$(status_entry "$item" "$icon" "$color" "$(state_count_format "$state")")"
	done
	# Agents whose setup command failed (exited before starting): counted apart, they need fixing.
	icon="$(get_tmux_option @agents-icon-setup-failed "$icon_setup_failed_default")"
	color="$(get_tmux_option @agents-color-setup-failed "$color_setup_failed_default")"
	format+="$(status_entry "$item" "$icon" "$color" '#{n:#{S:#{W:#{P:#{?#{==:#{@agent_setup},failed},x,}}}}}')"
	printf '%s' "$format"
}

# status_entry ITEM ICON COLOR COUNT: one entry of the segment, hidden while COUNT is 0.
status_entry() {
	local entry count="$4"
	# Literal commas inside a conditional's branch must be escaped (#,) for
	# tmux; the count is a whole #{...} block, which tmux skips over intact.
	# Replacements are quoted: bash 5.2 would read '&' in them as the match.
	entry="${1//,/#,}"
	entry="${entry//\{color\}/"${3//,/#,}"}"
	entry="${entry//\{icon\}/"${2//,/#,}"}"
	entry="${entry//\{count\}/"$count"}"
	printf '%s' "#{?#{==:${count},0},,${entry}}"
}

# window_icon_format: the most urgent state among a window's agents, as its icon.
window_icon_format() {
	local state icon format="" closing=""
	# Most urgent first: a waiting agent outranks a failed one, which outranks
	# a working one, and so on.
	for state in waiting error working starting idle exited; do
		eval "icon=\"\$(get_tmux_option @agents-icon-$state \"\$icon_${state}_default\")\""
		format+="#{?#{m:*<${state}>*,#{P:<#{@agent_state}>}}, ${icon//,/#,},"
		closing+="}"
	done
	printf '%s%s' "$format" "$closing"
}

# interpolate OPTION PLACEHOLDER VALUE: replace the placeholder in a global option.
interpolate() {
	local value
	value="$(tmux show-option -gqv "$1")"
	case "$value" in
	*"$2"*) tmux set-option -gq "$1" "${value//"$2"/"$3"}" ;;
	*) return 1 ;;
	esac
}

# replace_applied RECORD NEW OPTION...: a format this plugin put into the
# options on an earlier load (remembered in the RECORD option) is swapped for
# NEW where the config did not reset it, so icons, colours or the item format
# changed before a reload show at once instead of staying stale.
replace_applied() {
	local record="$1" new="$2" previous option
	shift 2
	previous="$(tmux show-option -gqv "$record")"
	if [ -n "$previous" ] && [ "$previous" != "$new" ]; then
		for option in "$@"; do
			interpolate "$option" "$previous" "$new"
		done
	fi
	if [ -n "$new" ]; then
		tmux set-option -gq "$record" "$new"
	else
		tmux set-option -gqu "$record"
	fi
}

# agents_usage_format: the usage segment, e.g. "45.2k ~$1.20" (the live agents'
# tokens and estimated cost) and, near a [budget], "92% budget". The hook
# stores both texts in global options at the end of each turn.
agents_usage_format() {
	printf '%s' '#{?@agents_usage,#{@agents_usage},}#{?@agents_budget, #[fg=yellow]#{@agents_budget}#[default],}'
}

update_status_formats() {
	local segment position left right found=1 usage
	usage="$(agents_usage_format)"
	interpolate status-right "#{agents_usage}" "$usage"
	interpolate status-left "#{agents_usage}" "$usage"
	segment="$(agents_status_format)"
	replace_applied @agents-status-applied "$segment" status-right status-left
	interpolate status-right "#{agents_status}" "$segment" && found=0
	interpolate status-left "#{agents_status}" "$segment" && found=0
	if [ "$found" -ne 0 ]; then
		# No placeholder: add the segment once, unless it is already there
		# (a reload that did not reset the option) or the user said none.
		position="$(get_tmux_option "$status_position_option" "$status_position_default")"
		left="$(tmux show-option -gqv status-left)"
		right="$(tmux show-option -gqv status-right)"
		case "$left$right" in
		*"@agent_state"*) ;;
		*)
			case "$position" in
			right) tmux set-option -gq status-right "$segment$right" ;;
			left) tmux set-option -gq status-left "$left$segment" ;;
			none) ;;
			*)
				say_bad_option "$status_position_option" "$position" "right, left or none" "$status_position_default"
				tmux set-option -gq status-right "$segment$right"
				;;
			esac
			;;
		esac
	fi
	local icon="" option value
	if option_is_on "$window_status_option" "$window_status_default"; then
		icon="$(window_icon_format)"
	fi
	# Turned off since the last load: the icon comes out again.
	replace_applied @agents-window-applied "$icon" window-status-format window-status-current-format
	if [ -n "$icon" ]; then
		for option in window-status-format window-status-current-format; do
			interpolate "$option" "#{agents_window}" "$icon" && continue
			value="$(tmux show-option -gqv "$option")"
			case "$value" in
			*"@agent_state"*) ;;
			*) tmux set-option -gq "$option" "$value$icon" ;;
			esac
		done
	fi
}
