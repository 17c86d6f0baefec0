"""The Bellman backup on the sparse model: one operator, two kernel backends.

:class:`BellmanOperator` prepares a :class:`SparseMDP`'s arrays once and
applies the backup of :mod:`agents.planning.bellman` to them, with its
conventions (terminal states worth 0 and never bootstrapped into or out of,
``-inf`` for unavailable actions):

* for all actions: ``Q[s, a] = R[s, a] + gamma * sum_b p_b E[x_b]``, ``b``
  the decision branches of ``(s, a)`` and ``x_b`` their post-decision states;
  ``E[x] = sum_e p_e V[s'_e]`` over the event branches of ``x`` (``E = V``
  without an event stage). ``R`` holds both stages' expected rewards;
* for the optimum, the maximum over actions without storing ``Q``;
* for ``K`` policies at once: the event stage on ``(S, K)`` values, then only
  the decision rows the policies use (deterministic policies: their rows
  gathered once, as :meth:`~access_review_env.model.sparse.SparseStage.select`
  gathers them) or all rows weighted by the policies' probabilities.

The kernels run compiled by numba (the ``fast`` extra, :mod:`.kernels_numba`)
or in NumPy (:mod:`.kernels_numpy`); both add each row's branches in order
and agree to rounding.
"""

from __future__ import annotations

import importlib
import importlib.util
import weakref
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.validation import check_choice

FloatArray = NDArray[np.float64]

Backend: TypeAlias = Literal["auto", "numba", "numpy"]
"""A planner's kernels: ``"auto"`` (numba for models of at least
:data:`NUMBA_MIN_BRANCHES` branches when it is installed, else NumPy), or one
forced."""
BACKENDS: tuple[Backend, ...] = ("auto", "numba", "numpy")

NUMBA_MIN_BRANCHES = 100_000
"""``"auto"`` uses numba from this many stored branches up; below it a backup
takes microseconds in NumPy, and a planner on a small task need not import
numba and load its compiled kernels (1.6 s and 2.9 s here, on a busy machine,
the first time in a process)."""

NUMBA_INSTALL = "pip install 'access-review-env[fast]'"


def resolve_backend(backend: str, n_branches: int = 0) -> Literal["numba", "numpy"]:
    """The kernels that run for ``backend`` on a model of ``n_branches`` branches.

    Raises:
        ValueError: For a backend other than ``"auto"``, ``"numba"``, ``"numpy"``.
        ImportError: If ``"numba"`` is forced and numba is not installed.
    """
    check_choice("backend", backend, BACKENDS)
    if backend == "numpy":
        return "numpy"
    installed = importlib.util.find_spec("numba") is not None
    if backend == "numba":
        if not installed:
            raise ImportError(f"backend='numba' needs numba: {NUMBA_INSTALL}")
        return "numba"
    return "numba" if installed and n_branches >= NUMBA_MIN_BRANCHES else "numpy"


def kernels(backend: Literal["numba", "numpy"]) -> ModuleType:
    """The module of ``backend``'s kernels (importing numba for ``"numba"``)."""
    return importlib.import_module(f"{__package__}.kernels_{backend}")


@dataclass(frozen=True)
class Rows:
    """One stage's CSR arrays, as the kernels read them.

    Attributes:
        indptr: ``(rows + 1,)`` int64 row offsets.
        target: ``(nnz,)`` integer index of the state a branch leads to.
        probability: ``(nnz,)`` float64 branch probabilities.
        n_actions: ``A`` for a decision stage (row ``s * A + a``), else 1.
    """

    indptr: NDArray[np.int64]
    target: NDArray[np.integer]
    probability: FloatArray
    n_actions: int = 1

    @classmethod
    def of(cls, stage: SparseStage, n_actions: int = 1) -> Rows:
        """The arrays of a model's stage (no copy), kept while the stage lives.

        Planners called again on the same model reuse the derived arrays
        (:attr:`row_of`, :attr:`action_of`) instead of rebuilding them.
        """
        known = _ROWS.setdefault(stage, {})
        if n_actions not in known:
            known[n_actions] = cls(
                stage.indptr, stage.target, stage.probability, n_actions
            )
        return known[n_actions]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.indptr.size - 1)

    @cached_property
    def row_of(self) -> NDArray[np.integer]:
        """``(nnz,)`` the row of each branch (int32 while rows fit)."""
        dtype = np.int32 if self.n_rows < 2**31 else np.int64
        return np.repeat(np.arange(self.n_rows, dtype=dtype), np.diff(self.indptr))

    @cached_property
    def nonempty(self) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """``(rows,)`` which rows have branches, and where those rows start."""
        starts = self.indptr[:-1]
        nonempty = starts < self.indptr[1:]
        return nonempty, starts[nonempty]

    @cached_property
    def action_of(self) -> NDArray[np.integer]:
        """``(nnz,)`` the action of each branch of a decision stage (unsigned)."""
        dtype = np.uint8 if self.n_actions <= 2**8 else np.uint32
        return np.asarray(self.row_of % self.n_actions, dtype=dtype)


_ROWS: weakref.WeakKeyDictionary[SparseStage, dict[int, Rows]] = (
    weakref.WeakKeyDictionary()
)


def row_branches(
    indptr: NDArray[np.int64], rows: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``(n,)`` the branch indices of ``rows``, row after row in the given order."""
    lengths = indptr[rows + 1] - indptr[rows]
    offsets = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    starts = np.repeat(indptr[rows] - offsets[:-1], lengths)
    return np.asarray(starts + np.arange(int(offsets[-1]), dtype=np.int64))


class BellmanOperator:
    """A sparse MDP's Bellman backup for one discount, arrays prepared once.

    Args:
        n_actions: ``A``.
        terminal: ``(S,)`` True for terminal states.
        rewards: ``(S, A)`` expected reward of a step, both stages (any value
            where an action is unavailable).
        available: ``(S, A)`` the actions a policy may take.
        decisions: Rows ``s * A + a`` to post-decision states.
        events: Rows per post-decision state to next states, or None.
        gamma: The discount.
        backend: Which kernels run (see :data:`Backend`).

    Values passed to the methods must be 0 in terminal states (the planners'
    iterates are; :meth:`q_values` zeroes them itself).
    """

    def __init__(
        self,
        n_actions: int,
        terminal: NDArray[np.bool_],
        rewards: FloatArray,
        available: NDArray[np.bool_],
        decisions: Rows,
        events: Rows | None,
        gamma: float,
        backend: Backend = "auto",
    ) -> None:
        """Prepare the arrays; see the class docstring for the arguments."""
        self.n_actions = n_actions
        self.n_states = int(terminal.size)
        self.terminal = terminal
        self.gamma = gamma
        self.decisions = decisions
        self.events = events
        n_branches = decisions.probability.size + (
            0 if events is None else events.probability.size
        )
        self.backend = resolve_backend(backend, n_branches)
        self.kernels = kernels(self.backend)
        self.rewards = np.where(available, rewards, 0.0)
        self.rewards[terminal] = 0.0
        base = np.where(available, rewards, -np.inf)
        base[terminal] = 0.0
        self.base = base.reshape(-1)

    @classmethod
    def of(
        cls, mdp: SparseMDP, gamma: float | None = None, backend: Backend = "auto"
    ) -> BellmanOperator:
        """The operator of ``mdp`` for ``gamma`` (the MDP's own when None)."""
        return cls(
            mdp.n_actions,
            mdp.terminal,
            mdp.rewards,
            mdp.available_actions,
            Rows.of(mdp.decisions, mdp.n_actions),
            None if mdp.events is None else Rows.of(mdp.events),
            mdp.gamma if gamma is None else gamma,
            backend,
        )

    def _sums(self, rows: Rows, x: FloatArray) -> FloatArray:
        """Each row's expected ``x``: ``(rows,)`` of ``(n,)``, or ``(rows, K)``."""
        out = np.empty((rows.n_rows, *x.shape[1:]))
        self.kernels.stage_sums(rows, x, out)
        return out

    def continuation(self, V: FloatArray) -> FloatArray:
        """Expected next-state value of each post-decision state.

        Args:
            V: ``(S,)`` values, or ``(S, K)`` for ``K`` policies; 0 in
                terminal states.

        Returns:
            An array of the shape of ``V``.
        """
        return V if self.events is None else self._sums(self.events, V)

    def q_values(self, V: FloatArray) -> FloatArray:
        """``(S, A)`` the backup of ``V`` ``(S,)`` for every action.

        Terminal entries of ``V`` are ignored; terminal rows are 0 and
        unavailable actions ``-inf``.
        """
        values = np.where(self.terminal, 0.0, np.asarray(V, dtype=np.float64))
        sums = self._sums(self.decisions, self.continuation(values))
        q = (self.base + self.gamma * sums).reshape(self.n_states, self.n_actions)
        q[self.terminal] = 0.0
        return np.asarray(q)

    def optimal_values(self, V: FloatArray) -> FloatArray:
        """``(S,)`` ``max_a Q[s, a]`` of the backup of ``V`` ``(S,)``."""
        out = np.empty(self.n_states)
        self.kernels.optimal_values(
            self.decisions,
            self.base,
            self.continuation(V),
            self.gamma,
            self.terminal,
            out,
        )
        return out

    def deterministic(self, actions: NDArray[np.int64]) -> PolicyRows:
        """The decision rows and rewards of ``K`` action tables ``(K, S)``.

        Row ``(k, s)`` reads the continuation values of policy ``k``: its
        targets index the flattened ``(S, K)`` values, ``target * K + k``.
        """
        n_policies = actions.shape[0]
        states = np.arange(self.n_states, dtype=np.int64)
        rows = (states * self.n_actions + actions).reshape(-1)
        picked = row_branches(self.decisions.indptr, rows)
        lengths = self.decisions.indptr[rows + 1] - self.decisions.indptr[rows]
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        target = self.decisions.target[picked].astype(np.int64) * n_policies
        if n_policies > 1:
            target += np.repeat(np.arange(rows.size) // self.n_states, lengths)
        rewards = self.rewards.reshape(-1)[rows].reshape(n_policies, self.n_states)
        return PolicyRows(
            Rows(indptr, target, self.decisions.probability[picked]), rewards, None
        )

    def stochastic(self, probabilities: FloatArray) -> PolicyRows:
        """The rewards of ``K`` action-probability tables ``(K, S, A)``."""
        rewards = np.einsum("ksa,sa->ks", probabilities, self.rewards)
        return PolicyRows(None, rewards, probabilities)

    def policy_values(self, policies: PolicyRows, V: FloatArray) -> FloatArray:
        """``(K, S)`` the backup of each policy's values ``V`` ``(K, S)``."""
        n_policies = V.shape[0]
        if n_policies == 1:
            x = self.continuation(V[0])[:, None]
        else:
            x = self.continuation(np.ascontiguousarray(V.T))
        if policies.rows is not None:
            sums = self._sums(policies.rows, x.reshape(-1)).reshape(V.shape)
        else:
            assert policies.probabilities is not None
            decided = self._sums(self.decisions, x[:, 0] if n_policies == 1 else x)
            sums = np.einsum(
                "ksa,sak->ks",
                policies.probabilities,
                decided.reshape(self.n_states, self.n_actions, n_policies),
            )
        values = policies.rewards + self.gamma * sums
        values[:, self.terminal] = 0.0
        return np.asarray(values)


@dataclass(frozen=True)
class PolicyRows:
    """What :meth:`BellmanOperator.policy_values` needs of ``K`` policies.

    Attributes:
        rows: The decision rows of deterministic policies, one per ``(k, s)``,
            or None for stochastic ones.
        rewards: ``(K, S)`` each policy's expected reward (0 if terminal).
        probabilities: ``(K, S, A)`` the action probabilities of stochastic
            policies, or None.
    """

    rows: Rows | None
    rewards: FloatArray
    probabilities: FloatArray | None
