# $ENV of sh-like shells started by scripts/shell: read after the login files.
case ":$PATH:" in
*":$AGENTS_TMUX_BIN:"*) ;;
*) [ -n "${AGENTS_TMUX_BIN:-}" ] && PATH="$AGENTS_TMUX_BIN:$PATH" ;;
esac
export PATH
if [ -n "${AGENTS_TMUX_USER_ENV:-}" ]; then
	ENV="$AGENTS_TMUX_USER_ENV"
	[ -r "$ENV" ] && . "$ENV"
fi
unset AGENTS_TMUX_USER_ENV
