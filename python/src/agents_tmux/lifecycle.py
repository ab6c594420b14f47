"""The end of an agent's life without losing work: find it, see what it holds, save it.

An agent is known from two places: its live pane (tmux options) and its
entry in the repository's registry. After a tmux restart only the registry
is left, so every command here works from either (:func:`resolve`).

Before anything is removed, :func:`inspect` lists what would be lost
(uncommitted, untracked, unmerged, ignored but not disposable);
:func:`save_work` commits all of it (untracked files included) on the
agent's branch and checks that nothing is left behind, and
:func:`archive_ignored` packs the ignored files that are work into an
archive; only then may the worktree go.
"""

from __future__ import annotations

import filecmp
import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents_tmux import gitops, paths, registry
from agents_tmux import ignored as ignored_files
from agents_tmux.errors import AgentsError

if TYPE_CHECKING:
    from agents_tmux import tmuxcmd

    from agents_tmux.panes import Agent

#: The message of the commit that saves an agent's work before its worktree goes.
SAVE_MESSAGE = "agents.tmux: save work of {name} before removal"
#: Identity for that commit when git has none configured.
FALLBACK_IDENTITY = ("agents.tmux", "agents.tmux@localhost")


@dataclass
class AgentRef:
    """One agent, as its pane and/or its registry entry describe it."""

    name: str
    repo: Path
    worktree: Path | None
    branch: str
    base: str = ""
    base_commit: str = ""
    kind: str = ""
    task: str = ""
    role: str = ""
    session_id: str = ""
    transcript: str = ""
    system_prompt: str = ""
    status: str = registry.ACTIVE
    pane_id: str = ""
    state: str = ""
    entry: dict[str, Any] = field(default_factory=dict)

    @property
    def own_worktree(self) -> bool:
        """True when the agent has a worktree and branch of its own (not the main checkout)."""
        if not (self.branch and self.worktree):
            return False
        # Compared resolved: a recorded "<repo>/." or a symlink to it is still the main checkout.
        return self.worktree != self.repo and self.worktree.resolve() != self.repo.resolve()

    @property
    def live(self) -> bool:
        return bool(self.pane_id)


def live_agents(server: tmuxcmd.Server | None) -> list[Agent]:
    """The agents of ``server`` (none without a server)."""
    if server is None:
        return []
    from agents_tmux import panes

    return panes.list_agents(server)


def _from_entry(repo: Path, entry: dict[str, Any]) -> AgentRef:
    worktree = entry.get("worktree") or ""
    return AgentRef(
        name=str(entry.get("name", "")),
        repo=repo,
        worktree=Path(worktree) if worktree else None,
        branch=str(entry.get("branch") or ""),
        base=str(entry.get("base") or ""),
        base_commit=str(entry.get("base_commit") or ""),
        kind=str(entry.get("kind") or ""),
        task=str(entry.get("task") or ""),
        role=str(entry.get("role") or ""),
        session_id=str(entry.get("session_id") or ""),
        transcript=str(entry.get("transcript") or ""),
        system_prompt=str(entry.get("system_prompt") or ""),
        status=str(entry.get("status") or registry.ACTIVE),
        entry=dict(entry),
    )


def _with_pane(ref: AgentRef, agent: Agent) -> AgentRef:
    """The pane's facts are the newest: they win over the registry's."""
    ref.pane_id = agent.pane_id
    ref.state = agent.state
    for attr in ("branch", "base", "kind", "task", "role", "session_id", "transcript"):
        value = getattr(agent, attr)
        if value:
            setattr(ref, attr, value)
    if agent.worktree:
        ref.worktree = Path(agent.worktree)
    return ref


def repo_of(directory: str | None) -> Path | None:
    """The main checkout of the repository at ``directory`` (or the current folder); None outside one."""
    try:
        return gitops.find_repo(Path(directory).expanduser() if directory else Path.cwd()).root
    except AgentsError:
        if directory:
            raise
        return None


def target_repos(all_repos: bool, repo_dir: str | None, hint: str) -> list[Path]:
    """Every known repository (``--all``), or the one at ``--repo`` / here."""
    if all_repos:
        return registry.known_repos()
    repo = repo_of(repo_dir)
    if repo is None:
        raise AgentsError(f"not inside a git repository: say which with --repo DIR, or {hint} with --all")
    return [repo]


def resolve(server: tmuxcmd.Server | None, name: str, repo_dir: str | None = None) -> AgentRef:
    """The agent called ``name`` (or with that pane id), live or only recorded.

    Looked for among the live panes first (of ``--repo`` when given), then in
    the registry of that repository or of the current folder's, then in
    every known registry (it must be unambiguous there).
    """
    repo = repo_of(repo_dir) if repo_dir else None
    live = [a for a in live_agents(server) if name in (a.name, a.pane_id) and (repo is None or Path(a.repo) == repo)]
    if len(live) > 1:
        # The same name in several repositories: the current folder's, else ask.
        here = repo_of(None)
        live = [a for a in live if here is not None and Path(a.repo) == here] or live
        if len(live) > 1:
            roots = ", ".join(sorted({a.repo for a in live}))
            raise AgentsError(f"several repositories have a running agent called {name!r} ({roots}): say which with --repo DIR")
    if live:
        agent = live[0]
        root = Path(agent.repo) if agent.repo else (repo or Path(agent.worktree))
        entry = registry.load(root).get(agent.name) if agent.repo else None
        base = _from_entry(root, entry) if isinstance(entry, dict) else AgentRef(
            name=agent.name, repo=root, worktree=Path(agent.worktree) if agent.worktree else None, branch=agent.branch
        )
        base.name = agent.name
        return _with_pane(base, agent)
    searched = [repo] if repo else []
    if not searched:
        here = repo_of(None)
        if here is not None:
            searched.append(here)
    for root in searched:
        entry = registry.load(root).get(name)
        if isinstance(entry, dict):
            return _from_entry(root, entry)
    if repo is None:
        found = [(root, registry.load(root).get(name)) for root in registry.known_repos() if root not in searched]
        found = [(root, entry) for root, entry in found if isinstance(entry, dict)]
        active = [item for item in found if item[1].get("status", registry.ACTIVE) == registry.ACTIVE]
        pick = active or found
        if len(pick) == 1:
            return _from_entry(*pick[0])
        if len(pick) > 1:
            roots = ", ".join(str(root) for root, _ in pick)
            raise AgentsError(f"several repositories have an agent called {name!r} ({roots}): say which with --repo DIR")
    raise AgentsError(f"no agent is called {name!r} (see `agents list`; agents of other repositories need --repo DIR)")


def merged_agents(server: tmuxcmd.Server | None, repo: Path) -> list[AgentRef]:
    """The agents of ``repo`` (running or on record) whose branch is merged into their base branch.

    Merged means the branch made commits of its own since the agent started
    (its tip moved from the recorded ``base_commit``) and the base branch
    holds its tip: an agent that has not committed anything yet is not
    "merged", however equal its branch is to the base.
    """
    names = [name for name, entry in sorted(registry.load(repo).items())
             if isinstance(entry, dict) and entry.get("status", registry.ACTIVE) == registry.ACTIVE]
    names += [a.name for a in live_agents(server) if a.repo and Path(a.repo) == repo and a.name not in names]
    found = []
    for name in names:
        ref = resolve(server, name, str(repo))
        if not (ref.own_worktree and ref.base and ref.base_commit):
            continue
        tip = branch_tip(ref)
        base = f"refs/heads/{ref.base}"
        if not tip or tip == ref.base_commit:
            continue
        # By ancestry, or by content: a branch squash-merged (here or on a forge) is merged too.
        if gitops.git(repo, "merge-base", "--is-ancestor", tip, base, check=False).returncode == 0 or changes_in(repo, tip, ref.base):
            found.append(ref)
    return found


def changes_in(repo: Path, commit: str, target: str) -> bool:
    """True when everything ``commit`` changed since it forked from the local branch ``target`` is in ``target``.

    Proved by merging once more without touching anything (``git merge-tree
    --write-tree``, git 2.38 and newer): when that merge is clean and its
    tree is ``target``'s own, ``commit`` brings nothing ``target`` lacks. So
    a squash merge counts, and so do later commits of ``target`` elsewhere,
    even in the same files; a commit made after the squash, or ``target``
    having undone or rewritten part of the work, does not. False whenever
    git cannot tell (older git, unrelated histories): never a guess.
    """
    target_ref = f"refs/heads/{target}"
    if not target or not commit:
        return False
    proc = gitops.git(repo, "merge-tree", "--write-tree", "--no-messages", target_ref, commit, check=False)
    if proc.returncode != 0:
        return False
    merged = proc.stdout.split("\n", 1)[0].strip()
    own = gitops.git(repo, "rev-parse", "-q", "--verify", f"{target_ref}^{{tree}}", check=False).stdout.strip()
    return bool(merged) and merged == own


# --------------------------------------------------------------------------
# what an agent's worktree and branch hold


@dataclass
class Work:
    """What removing an agent's worktree (and branch) would lose."""

    worktree_exists: bool = False
    #: Tracked files with changes, staged or not (paths relative to the worktree).
    changed: list[str] = field(default_factory=list)
    #: Untracked files that are not ignored.
    untracked: list[str] = field(default_factory=list)
    #: Untracked files copied in at spawn (copy_files) and still identical to the main checkout's.
    copies: list[str] = field(default_factory=list)
    #: Untracked folders that are git repositories of their own: git cannot save them.
    nested_repos: list[str] = field(default_factory=list)
    #: Ignored files and folders, as git lists them (a folder once, ending in "/").
    ignored: list[str] = field(default_factory=list)
    #: The entries of ``ignored`` that are disposable (build output, caches): removing them loses nothing.
    disposable: list[str] = field(default_factory=list)
    #: Every ignored file (or symlink) that is work: not disposable, not an unchanged copy, not the context link.
    kept_ignored: list[str] = field(default_factory=list)
    #: Commits of the branch (or of a detached HEAD) that no other branch holds.
    unmerged: int = 0
    branch_exists: bool = False
    #: The branch checked out in the worktree ("" when HEAD is detached).
    head_branch: str = ""
    #: The branch that holds the changes of the branch's own commits when no branch holds those commits
    #: (a squash merge): they are not counted in ``unmerged``, and the branch is kept.
    changes_in: str = ""

    @property
    def dirty(self) -> bool:
        return bool(self.changed or self.untracked or self.nested_repos)

    def losses(self, branch: str) -> list[str]:
        """What would be lost, in words ("2 uncommitted files", ...)."""
        out = []
        if self.changed:
            out.append(_count(len(self.changed), "uncommitted file") + f" ({sample(self.changed)})")
        if self.untracked:
            out.append(_count(len(self.untracked), "untracked file") + f" ({sample(self.untracked)})")
        if self.nested_repos:
            out.append(_count(len(self.nested_repos), "nested git repository", "nested git repositories") + f" ({sample(self.nested_repos)})")
        if self.kept_ignored:
            out.append(_count(len(self.kept_ignored), "ignored file") + f" that {'is' if len(self.kept_ignored) == 1 else 'are'} "
                       f"not disposable ({sample(self.kept_ignored)})")
        if self.unmerged:
            out.append(_count(self.unmerged, "commit") + f" on {branch or 'a detached HEAD'} not merged into any other branch")
        return out


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def sample(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _status_entries(worktree: Path, check: bool = True) -> list[tuple[str, str]]:
    """``(XY, path)`` from ``git status --porcelain -z``, every untracked file listed (none when git fails, unless ``check``)."""
    out = gitops.git(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", check=check).stdout
    entries = []
    for item in out.split("\0"):
        if len(item) > 3:
            entries.append((item[:2], item[3:]))
    return entries


def status_paths(worktree: Path) -> list[str]:
    """The paths ``git status`` shows in ``worktree``: changed, staged or untracked (every untracked file)."""
    return [path for _, path in _status_entries(worktree, check=False)]


def unmerged_commits(repo: Path, ref: str, own_branch: str = "") -> int:
    """How many commits of ``ref`` no other local or remote-tracking branch holds.

    ``own_branch`` is read as ``refs/heads/<own_branch>`` (a tag of the same
    name would otherwise be counted instead). When git cannot tell, this
    raises: an unknown count must never pass for "nothing unmerged".
    """
    exclude = [f"--exclude={own_branch}"] if own_branch else []
    proc = gitops.git(repo, "rev-list", "--count", ref, "--not", *exclude, "--branches", "--remotes", check=False)
    try:
        if proc.returncode == 0:
            return int(proc.stdout.strip())
    except ValueError:
        pass
    detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    raise AgentsError(f"cannot tell which commits of {ref} are merged ({detail}); nothing was removed")


def is_worktree_of(repo: Path, folder: Path) -> bool:
    """True when ``folder`` is the top of a working tree of ``repo`` (not a plain folder git finds a repository above)."""
    proc = gitops.git(folder, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", check=False)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        return False
    common = gitops.git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False).stdout.strip()
    try:
        return Path(lines[0]).resolve() == folder.resolve() and bool(common) and Path(lines[1]).resolve() == Path(common).resolve()
    except OSError:
        return False


def copy_patterns(repo: Path) -> tuple[str, ...]:
    """The ``copy_files`` patterns of the repository's config (none when it cannot be read)."""
    from agents_tmux import config as config_mod

    try:
        return config_mod.load(repo).copy_files
    except AgentsError:
        return ()


def _unchanged_copies(ref: AgentRef, untracked: list[str]) -> list[str]:
    """Files (untracked or ignored) that spawn copied in (``.env``...) and that still equal the original."""
    assert ref.worktree is not None
    wanted: set[str] = set()
    for pattern in copy_patterns(ref.repo):
        wanted.update(glob.glob(pattern, root_dir=ref.worktree, include_hidden=True))
    if untracked:
        from agents_tmux.spawn import worktree_include_files

        wanted.update(worktree_include_files(ref.repo))
    same = []
    for path in untracked:
        original = ref.repo / path
        if path in wanted and original.is_file() and filecmp.cmp(ref.worktree / path, original, shallow=False):
            same.append(path)
    return same


def inspect(ref: AgentRef, into: str = "") -> Work:
    """What the agent's worktree and branch hold that removing them would lose.

    With ``into`` (a local branch), commits of the agent's branch whose
    changes are all in ``into`` (:func:`changes_in`) are not counted as
    unmerged: the work is there, and the branch itself stays.
    """
    work = Work()
    repo = ref.repo
    work.branch_exists = bool(ref.branch) and gitops.git(
        repo, "show-ref", "--verify", "--quiet", f"refs/heads/{ref.branch}", check=False
    ).returncode == 0
    if ref.worktree is not None and ref.worktree.is_dir() and ref.own_worktree:
        if not is_worktree_of(repo, ref.worktree):
            # git would look further up and report (and commit into) some other repository.
            raise AgentsError(
                f"{ref.worktree} is not a worktree of {repo} any more (its .git link is gone or it belongs elsewhere): "
                "nothing was changed; look at it and move or delete it by hand"
            )
        work.worktree_exists = True
        for xy, path in _status_entries(ref.worktree):
            if xy == "??":
                (work.nested_repos if path.endswith("/") else work.untracked).append(path)
            else:
                work.changed.append(path)
        work.copies = _unchanged_copies(ref, work.untracked)
        work.untracked = [p for p in work.untracked if p not in work.copies]
        work.ignored = [p for p in _ignored_listing(ref.worktree) if not _is_context_link(ref, p)]
        # An ignored .env that spawn copied in and nobody changed is still in
        # the main checkout: removing the worktree loses nothing of it.
        copied = set(_unchanged_copies(ref, work.ignored))
        work.ignored = [p for p in work.ignored if p not in copied]
        patterns = disposable_patterns(repo)
        work.disposable = [p for p in work.ignored if ignored_files.is_disposable(p, patterns)]
        work.kept_ignored = _ignored_work(ref, work.ignored, patterns)
        head = gitops.git(ref.worktree, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
        work.head_branch = head
        if not head:
            work.unmerged += unmerged_commits(ref.worktree, "HEAD")
    if work.branch_exists:
        unmerged = unmerged_commits(repo, f"refs/heads/{ref.branch}", ref.branch)
        if unmerged and into and changes_in(repo, f"refs/heads/{ref.branch}", into):
            work.changes_in = into
        else:
            work.unmerged += unmerged
    return work


def _ignored_listing(worktree: Path) -> list[str]:
    """The ignored files and folders of ``worktree`` (a folder once, ending in "/", nothing below it)."""
    ignored = gitops.git(worktree, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory").stdout
    listed = sorted(p for p in ignored.split("\0") if p)
    return [p for p in listed if not any(p != d and p.startswith(d) for d in listed if d.endswith("/"))]


def disposable_patterns(repo: Path) -> tuple[str, ...]:
    """The repository's ``disposable`` patterns; the built-in ones when its config cannot be read.

    A broken config file must not stop a removal, nor make caches count as work.
    """
    from agents_tmux import config as config_mod

    try:
        return config_mod.load(repo).disposable
    except AgentsError:
        builtin = config_mod.tomllib.loads(config_mod.DEFAULTS_FILE.read_text(encoding="utf-8"))
        return tuple(builtin["defaults"]["disposable"])


def _ignored_work(ref: AgentRef, listed: list[str], patterns: tuple[str, ...]) -> list[str]:
    """The files under the ignored entries ``listed`` that removing the worktree would lose."""
    assert ref.worktree is not None
    found = ignored_files.files_to_keep(ref.worktree, listed, patterns)
    mine = set(_program_files(ref))
    found = [p for p in found if not _is_context_link(ref, p) and p not in mine]
    copied = set(_unchanged_copies(ref, found))
    return [p for p in found if p not in copied]


def _program_files(ref: AgentRef) -> list[str]:
    """Files agents.tmux wrote into the worktree for the agent's program (Gemini's hook settings), unchanged."""
    from agents_tmux import config as config_mod
    from agents_tmux import programs

    assert ref.worktree is not None
    try:
        kind = config_mod.load(ref.repo).agents.get(ref.kind)
        return programs.get(kind.program).own_files(ref.worktree) if kind is not None else []
    except (AgentsError, KeyError):
        return []


def release_program_files(repo: Path, name: str, kind: str, folder: Path) -> list[str]:
    """Take back what agents.tmux wrote into ``folder`` (the main checkout) for agent ``name``'s program.

    Not while another agent of the same program, or of a kind no longer in
    the config, still works there: the files are its hooks too. A kind not
    in the config any more: each adapter takes back only what is provably its
    own. Returns the paths removed, relative to ``folder``.
    """
    from agents_tmux import config as config_mod
    from agents_tmux import programs

    try:
        kinds = config_mod.load(repo).agents
    except AgentsError:
        kinds = {}

    def program_of(kind_name: str) -> str | None:
        found = kinds.get(kind_name)
        return found.program if found is not None else None

    mine = program_of(kind)
    try:
        target = folder.resolve()
        entries = registry.load(repo)
    except (OSError, AgentsError):
        return []
    for other, entry in entries.items():
        worktree = entry.get("worktree") if isinstance(entry, dict) else None
        if other == name or not isinstance(worktree, str) or not worktree or entry.get("status") == registry.REMOVED:
            continue
        if Path(worktree).resolve() == target and program_of(str(entry.get("kind") or "")) in (mine, None):
            return []
    gone: list[str] = []
    for program in [mine] if mine is not None else programs.names():
        gone += programs.get(program).release(folder)
    return gone


def _is_context_link(ref: AgentRef, path: str) -> bool:
    """True for the shared context link in the worktree (or a folder holding only it).

    Removing the worktree removes only that link: the shared folder lives
    in the main checkout and stays, so it is nothing the user loses.
    """
    from agents_tmux import config as config_mod
    from agents_tmux import context

    assert ref.worktree is not None
    try:
        rel = context.relative_dir(config_mod.load(ref.repo))
    except AgentsError:
        return False
    shared = ref.repo / rel
    link = ref.worktree / rel
    try:
        if not link.is_symlink() or link.resolve() != shared.resolve():
            return False
    except OSError:
        return False
    parts = Path(path.rstrip("/")).parts
    if not parts or parts != rel.parts[: len(parts)]:
        return False
    # A listed folder on the way (".agents/") must hold nothing but the way to the link.
    for depth in range(len(parts), len(rel.parts)):
        try:
            inside = [entry.name for entry in (ref.worktree / Path(*rel.parts[:depth])).iterdir()]
        except OSError:
            return False
        if inside != [rel.parts[depth]]:
            return False
    return True


# --------------------------------------------------------------------------
# saving


@dataclass(frozen=True)
class Saved:
    """Where an agent's work went."""

    branch: str
    commit: str
    #: True when a new commit was made (False: everything was committed already).
    committed: bool


def identity_args(cwd: Path) -> list[str]:
    """``-c user.name=... -c user.email=...`` when git has no identity of its own."""
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if gitops.git(cwd, "var", var, check=False).returncode != 0:
            name, email = FALLBACK_IDENTITY
            return ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    return []


def save_work(ref: AgentRef, work: Work) -> Saved:
    """Commit everything in the agent's worktree (untracked too, not ignored) on its branch.

    No commit hook runs and no signing is asked for. Afterwards the worktree
    must be clean but for unchanged ``copy_files`` copies, or nothing may be
    removed: an error says what is left.
    """
    assert ref.worktree is not None
    worktree = ref.worktree
    if work.nested_repos:
        raise AgentsError(
            f"{worktree} holds git repositories of its own ({sample(work.nested_repos)}): "
            "git cannot save them in a commit; move them out of the worktree first"
        )
    committed = False
    # An rm or park killed during its git add or commit leaves git's locks: this one finishes the job.
    gitops.clear_stale_locks(worktree, ref.branch)
    if work.changed or work.untracked:
        gitops.git(worktree, "add", "-A", "--", ".")
        if work.copies:
            gitops.git(worktree, "rm", "-q", "--cached", "--ignore-unmatch", "--", *work.copies)
        staged = gitops.git(worktree, "diff", "--cached", "--quiet", check=False).returncode != 0
        if staged:
            message = SAVE_MESSAGE.format(name=ref.name)
            gitops.git(
                worktree, *identity_args(worktree), "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
                "commit", "--quiet", "--no-verify", "-m", message,
            )
            committed = True
    left = [path for xy, path in _status_entries(worktree) if not (xy == "??" and path in work.copies)]
    if left:
        raise AgentsError(f"saving the work of {ref.name} left files uncommitted ({sample(left)}); nothing was removed")
    commit = gitops.git(worktree, "rev-parse", "HEAD").stdout.strip()
    branch = gitops.git(worktree, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    if not branch:
        # A detached HEAD (a rebase left half way, a checkout of a commit):
        # give its commits a branch, or they would be lost with the worktree.
        branch = _free_branch(ref.repo, f"{ref.branch or 'agents-saved/' + ref.name}-saved")
        gitops.git(ref.repo, "branch", branch, commit)
    return Saved(branch=branch, commit=commit, committed=committed)


def archive_folder(repo: Path) -> Path:
    """Where ``rm --force`` keeps the archives of ignored files: ``<state folder of the repository>/saved``."""
    return paths.repo_state_dir(repo) / "saved"


def archive_ignored(ref: AgentRef) -> tuple[Path | None, list[str]]:
    """Archive the ignored files of the agent's worktree that are work; (the archive or None, the files).

    Listed afresh: call it once the agent has stopped, so nothing it wrote
    since :func:`inspect` is missed.
    """
    assert ref.worktree is not None
    files = _ignored_work(ref, _ignored_listing(ref.worktree), disposable_patterns(ref.repo))
    if not files:
        return None, []
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref.name) or "agent"
    return ignored_files.archive(ref.worktree, files, archive_folder(ref.repo), stem), files


def _free_branch(repo: Path, stem: str) -> str:
    for number in range(1, 1000):
        name = stem if number == 1 else f"{stem}-{number}"
        if gitops.git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False).returncode != 0:
            return name
    raise AgentsError(f"no free branch name like {stem}")


def remove_worktree(ref: AgentRef, work: Work) -> None:
    """``git worktree remove`` (only called once :func:`save_work` left it clean)."""
    assert ref.worktree is not None
    force = ["--force"] if work.copies else []
    gitops.git(ref.repo, "worktree", "remove", *force, str(ref.worktree))


def delete_branch_if_merged(ref: AgentRef) -> bool:
    """Delete the agent's branch when every commit of it is on another branch; True if deleted."""
    if not ref.branch:
        return False
    if gitops.git(ref.repo, "show-ref", "--verify", "--quiet", f"refs/heads/{ref.branch}", check=False).returncode != 0:
        return False
    try:
        if unmerged_commits(ref.repo, f"refs/heads/{ref.branch}", ref.branch):
            return False
    except AgentsError:
        return False
    # -D: our own check above is stricter than -d's "merged into HEAD"; git
    # still refuses a branch that some worktree has checked out.
    return gitops.git(ref.repo, "branch", "-D", ref.branch, check=False).returncode == 0


def branch_tip(ref: AgentRef) -> str:
    """The commit the agent's branch points at ("" when it has none)."""
    if not ref.branch:
        return ""
    proc = gitops.git(ref.repo, "rev-parse", "-q", "--verify", f"refs/heads/{ref.branch}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def holding_branch(repo: Path, commit: str, prefer: str = "") -> str:
    """A branch that holds ``commit`` (``prefer`` when it does), for saying where work went."""
    out = gitops.git(repo, "for-each-ref", "--contains", commit, "--format=%(refname:short)", "refs/heads", "refs/remotes",
                     check=False).stdout.split()
    if prefer and prefer in out:
        return prefer
    return out[0] if out else "another branch"


def short(commit: str) -> str:
    return commit[:12]



def connect_if_running(socket: Any) -> tmuxcmd.Server | None:
    """The tmux server of ``socket``, or None when none runs (the registry still works)."""
    from agents_tmux import panes

    try:
        return panes.connect(socket)
    except AgentsError:
        return None


def close_pane(server: tmuxcmd.Server | None, ref: AgentRef) -> bool:
    """Kill the agent's pane if it is still there; True when one was closed."""
    if server is None or not ref.pane_id:
        return False
    from agents_tmux import panes

    alive = [a for a in panes.list_agents(server) if a.pane_id == ref.pane_id and a.name == ref.name]
    if not alive:
        return False
    panes.run(server, "kill-pane", "-t", ref.pane_id)
    panes.refresh_usage_summary(server)
    return True


def refuse_if_elsewhere(server: tmuxcmd.Server | None, ref: AgentRef, command: str, *after: str) -> None:
    """Refuse when ``ref`` has no pane here but runs in another tmux server.

    From another server (your own tmux, a wrong -L, none at all) the agent
    looks gone: removing or parking it would pull its worktree out from under
    the running agent. The hint names that server, so pasting it acts there.
    """
    if ref.live:
        return
    import shlex

    from agents_tmux.restore import alive_elsewhere, server_socket

    if alive_elsewhere(ref.entry, ref.repo, server_socket(server) if server is not None else ""):
        socket = str(ref.entry.get("socket"))
        raise AgentsError(
            f"{ref.name} runs in another tmux server ({socket}); nothing was changed: "
            f"run it there: {shlex.join(['agents', '-S', socket, command, ref.name, *after])}"
        )
