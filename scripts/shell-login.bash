# bash's rcfile for scripts/shell: what a login shell reads, then `agents` on PATH.
# (A login shell ignores --rcfile, so this reads the login files itself.)
[ -r /etc/profile ] && . /etc/profile
for _agents_tmux_file in ~/.bash_profile ~/.bash_login ~/.profile; do
	if [ -r "$_agents_tmux_file" ]; then
		. "$_agents_tmux_file"
		break
	fi
done
unset _agents_tmux_file
case ":$PATH:" in
*":$AGENTS_TMUX_BIN:"*) ;;
*) [ -n "${AGENTS_TMUX_BIN:-}" ] && PATH="$AGENTS_TMUX_BIN:$PATH" ;;
esac
