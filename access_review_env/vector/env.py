"""Native vector envs: many episodes of any task, stepped from its sparse model.

:class:`TaskVectorEnv` reads the same :class:`~access_review_env.model.TaskModel`
as the single env and steps every sub-env from the model's
:class:`~access_review_env.model.sparse.SparseMDP`: a decision branch, then an
event branch when the model has an event stage, exactly as ``TaskEnv.step``
does, with the time limit of ``gym.make`` and the autoreset of
``SyncVectorEnv``. No array of the model is copied, so every level of every
task runs, the queue's million-state level included.

With numba installed (the ``fast`` extra) the step is a compiled loop over
the sub-envs (:mod:`.kernels_numba`: fused for models that fit in the caches,
staged for larger ones); without it, whole-array NumPy operations
(:mod:`.kernels_numpy`) return the same bits. Each sub-env draws from its own
random stream (:mod:`.streams`). A task's vector env class only names its
declaration; its keywords and manual come from it.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from access_review_env.actions import InvalidActionError, invalid_action_message
from access_review_env.env import FEATURE_TABLE_STATES
from access_review_env.model import TaskModel
from access_review_env.model.catalog import (
    ACCESS_REVIEW_RISK_TASK,
    ACCESS_REVIEW_TASK,
    QUEUE_TASK,
)
from access_review_env.model.declarations import (
    TaskDeclaration,
    arguments_section,
    bind,
    signature,
)
from access_review_env.reset_options import RESET_OPTIONS, check_reset_options
from access_review_env.tasks.format import Parameter
from access_review_env.validation import check_integer
from access_review_env.vector import kernels_numpy
from access_review_env.vector.layout import (
    COUNTER,
    ENDED_EPISODE,
    INVALID_ACTION,
    KEY,
    MODES,
    OUT_OF_RANGE,
    OUT_STATE,
    SAME_STEP,
    STATE,
    STEPPED,
    Outputs,
    Rows,
    mask_word,
    step_model,
    step_settings,
)
from access_review_env.vector.parameters import (
    PARALLEL_MIN_ENVS,
    VECTOR_ENV_PARAMETERS,
    check_autoreset_mode,
    check_max_episode_steps,
    check_render_mode,
    check_threads,
    vector_parameters,
)
from access_review_env.vector.streams import (
    check_seeds,
    random_seeds,
    stream_keys,
)

STAGED_MIN_BYTES = 2**21
"""Models whose arrays hold at least this many bytes (about a core's share of
the caches) step through the staged loop, smaller ones through the fused one:
measured side by side, the fused loop is the faster on the table tasks and
the staged one on the queue from its small level (2.3 MB) up."""

VECTOR_RESET_OPTIONS = (*RESET_OPTIONS, "reset_mask")
"""The options the vector env's ``reset`` takes."""

_NUM_ENVS = inspect.Parameter("num_envs", inspect.Parameter.POSITIONAL_OR_KEYWORD)


@functools.cache
def step_kernels() -> ModuleType:
    """The module whose step loops and ``first_refusal`` step the sub-envs.

    :mod:`.kernels_numba` when numba is installed, else :mod:`.kernels_numpy`;
    both return the same bits.
    """
    if importlib.util.find_spec("numba") is None:
        return kernels_numpy
    return importlib.import_module("access_review_env.vector.kernels_numba")


class TaskVectorEnv(VectorEnv[NDArray[Any], NDArray[np.int64], NDArray[Any]]):
    """``num_envs`` independent episodes of a task's model, stepped together.

    ``TaskVectorEnv(num_envs, model, ...)`` runs any
    :class:`~access_review_env.model.TaskModel`; a task's class (such as
    :class:`AccessReviewVectorEnv`) takes the task's keywords instead of a
    model and defaults ``max_episode_steps`` to the registered limit. See
    :class:`AccessReviewVectorEnv` for the semantics, data types, infos and
    seeding every vector env shares.

    Args:
        num_envs: Number of sub-envs.
        model: The task's model for one configuration (only for
            ``TaskVectorEnv`` itself).

    Keyword Args:
        exploring_starts (bool): Start every episode in a uniformly random
            non-terminal state.
        observation (str): ``"index"`` (int64 state indices) or ``"features"``
            (float32 rows of ``model.features``).
        render_mode (None): None only.
        max_episode_steps (int | None): Per-sub-env time limit; None (the
            default here) for none.
        copy (bool): Return fresh arrays from every call (else reused buffers).
        threads (int | None): Worker threads for batches of at least 2**18
            sub-envs.
        autoreset_mode (AutoresetMode | str): Gymnasium's autoreset mode.

    Raises:
        TypeError, ValueError: For an argument that is not allowed, naming it.
    """

    metadata = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }
    declaration: ClassVar[TaskDeclaration | None] = None
    """The task a subclass builds (None for :class:`TaskVectorEnv` itself)."""

    _executor: ThreadPoolExecutor | None = None
    """Worker threads, started by the first large step (a class default, so that
    ``close`` works even on an env whose construction failed)."""

    @classmethod
    def parameters(cls) -> tuple[Parameter, ...]:
        """Every keyword this class takes besides ``num_envs`` (and ``model``)."""
        declaration = cls.declaration
        if declaration is None:
            return (*VECTOR_ENV_PARAMETERS, *vector_parameters(None))
        return (
            *declaration.parameters,
            *VECTOR_ENV_PARAMETERS,
            *vector_parameters(declaration.max_episode_steps),
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a task's vector env class its keyword signature and ``## Arguments``."""
        super().__init_subclass__(**kwargs)
        declaration = cls.__dict__.get("declaration")
        if declaration is None:
            return
        cls.__signature__ = signature(  # type: ignore[attr-defined]
            cls.parameters(), leading=[_NUM_ENVS]
        )
        if cls.__doc__ and "## Arguments\n" in cls.__doc__:
            section = arguments_section(
                "import gymnasium as gym\nimport access_review_env  # registers the "
                f'id\n\ngym.make_vec(\n    "{declaration.env_id}",',
                cls.parameters(),
                leading=[
                    "    num_envs=8,",
                    '    vectorization_mode="vector_entry_point",',
                ],
            )
            indented = "".join(
                f"    {line}\n" if line else "\n" for line in section.splitlines()
            )
            cls.__doc__ = cls.__doc__.replace(
                "## Arguments\n", "## Arguments\n" + indented, 1
            )

    def __init__(
        self, num_envs: int, model: TaskModel | None = None, **arguments: Any
    ) -> None:
        """Build ``num_envs`` sub-envs; see the class docstring."""
        cls = type(self)
        declaration = cls.declaration
        num_envs = check_integer("num_envs", num_envs, low=1)
        if declaration is None and model is None:
            raise TypeError(
                "TaskVectorEnv needs a model: TaskVectorEnv(num_envs, model, ...), "
                "or use a task's vector env class (such as AccessReviewVectorEnv)"
            )
        if declaration is not None and model is not None:
            raise TypeError(
                f"{cls.__name__} builds its task's model from keywords; to run a "
                "model of your own, use TaskVectorEnv(num_envs, model, ...)"
            )
        # Every keyword is checked before a model is built: the largest
        # level takes seconds to build.
        values = bind(cls.__name__, cls.parameters(), arguments)
        settings = {
            parameter.name: values.pop(parameter.name)
            for parameter in (*VECTOR_ENV_PARAMETERS, *vector_parameters(None))
        }
        check_render_mode(settings.pop("render_mode"))
        settings["max_episode_steps"] = check_max_episode_steps(
            settings["max_episode_steps"]
        )
        settings["threads"] = check_threads(settings["threads"])
        settings["autoreset_mode"] = check_autoreset_mode(settings["autoreset_mode"])
        if model is None:
            assert declaration is not None
            model = declaration.model(**values)
        self._setup(num_envs, model, **settings)

    def _setup(
        self,
        num_envs: int,
        model: TaskModel,
        exploring_starts: bool,
        observation: str,
        max_episode_steps: int | None,
        copy: bool,
        threads: int,
        autoreset_mode: AutoresetMode,
    ) -> None:
        sparse = model.sparse
        n_states, n_actions = sparse.n_states, sparse.n_actions
        self.num_envs = num_envs
        self._mdp = model
        self._exploring_starts = exploring_starts
        self._observation = observation
        self._max_episode_steps = max_episode_steps
        self._copy = copy
        self._threads = threads
        self._autoreset_mode = autoreset_mode
        self._mode = MODES[autoreset_mode]
        self._has_events = sparse.events is not None
        self._refuse_invalid = not bool(sparse.available_actions.all())
        self.render_mode = None
        self.metadata = {
            **self.metadata,
            "autoreset_mode": autoreset_mode,
            "outcomes": sparse.outcomes,
        }
        self.single_action_space = spaces.Discrete(n_actions)
        self._features: NDArray[np.float32] | None = None
        if observation == "index":
            self.single_observation_space = spaces.Discrete(n_states)
        else:
            self.single_observation_space = spaces.Box(
                0.0, 1.0, (len(model.feature_names),), dtype=np.float32
            )
            if n_states <= FEATURE_TABLE_STATES:
                self._features = model.features(np.arange(n_states))
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        if exploring_starts:
            live = ~sparse.terminal
            start = live / live.sum()
        else:
            start = sparse.initial_distribution
        self._model = step_model(sparse, start)
        # numba unboxes a plain tuple twice as fast as a NamedTuple.
        self._model_arrays: tuple[NDArray[Any], ...] = tuple(self._model)
        self._staged = (
            sum(array.nbytes for array in self._model_arrays) >= STAGED_MIN_BYTES
        )
        self._settings = step_settings(sparse, max_episode_steps, self._mode)
        self._memory = np.zeros((4, num_envs), dtype=np.int32)
        self._seeds = random_seeds(num_envs)
        self._streams = np.zeros((2, num_envs), dtype=np.uint64)
        self._streams[KEY] = stream_keys(self._seeds)
        # False until a sub-env's reset succeeds, and again after a rejected
        # reset: step then raises, as SyncVectorEnv's sub-envs do.
        self._ready = np.zeros(num_envs, dtype=bool)
        self._all_ready = False
        self._all_report = np.ones(num_envs, dtype=bool)
        self._all_report.flags.writeable = False
        self._no_finals = Outputs.empty(0, n_actions).words()
        self._n_actions = n_actions
        self._mask_slots = (0,) * (n_actions // mask_word(n_actions).itemsize)
        self._reused: Outputs | None = None
        self._reused_observations: NDArray[Any] | None = None
        if not copy:
            self._reused = Outputs.empty(num_envs, n_actions)
            self._reused_rows = self._reused.rows()
            self._reused_observations = np.empty(
                self.observation_space.shape or (num_envs,),
                dtype=self.observation_space.dtype,
            )
        n_chunks = threads if num_envs >= PARALLEL_MIN_ENVS else 1
        bounds = np.linspace(0, num_envs, n_chunks + 1).astype(int)
        self._chunks = [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    @property
    def mdp(self) -> TaskModel:
        """The task's model for this configuration; ``step`` samples from it."""
        return self._mdp

    @property
    def exploring_starts(self) -> bool:
        """Whether episodes start in a uniformly random non-terminal state."""
        return self._exploring_starts

    @property
    def observation_mode(self) -> str:
        """``"index"`` or ``"features"``: what the observations are."""
        return self._observation

    @property
    def max_episode_steps(self) -> int | None:
        """The per-sub-env time limit, or None for none."""
        return self._max_episode_steps

    @property
    def copy(self) -> bool:
        """Whether every call returns fresh arrays (else reused buffers)."""
        return self._copy

    @property
    def threads(self) -> int:
        """Worker threads for batches of at least 2**18 sub-envs."""
        return self._threads

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """Gymnasium's autoreset mode, as ``SyncVectorEnv.autoreset_mode``."""
        return self._autoreset_mode

    @property
    def seeds(self) -> NDArray[np.uint64]:
        """``(N,)`` each sub-env's seed (drawn from the OS until ``reset`` sets it)."""
        return self._seeds.copy()

    @property
    def np_random(self) -> np.random.Generator:
        """Not available: each sub-env draws from its own stream.

        Raises:
            AttributeError: Always, saying how to seed the streams.
        """
        raise AttributeError(
            "the native vector env has no np_random: each sub-env draws from its "
            "own stream, seeded by reset(seed=...) (an int s seeds sub-env k "
            "with s + k; a list gives one seed per sub-env); see env.seeds"
        )

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        raise AttributeError(
            "the native vector env's sub-envs draw from their own streams; seed "
            "them with reset(seed=...) instead of setting np_random"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the worker threads; the first large step restarts them."""
        state = self.__dict__.copy()
        state.pop("_executor", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled env; its shared all-True info mask stays read-only."""
        self.__dict__.update(state)
        self._all_report.flags.writeable = False

    def reset(
        self,
        *,
        seed: int | list[int | None] | NDArray[Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[NDArray[Any], dict[str, Any]]:
        """Start every sub-env, or those ``options["reset_mask"]`` selects.

        Args:
            seed: As ``SyncVectorEnv`` takes it: an int ``s`` seeds sub-env
                ``k`` with ``s + k``; a list or array gives each sub-env its
                seed (None: a fresh one from the OS); None keeps the streams.
            options: ``start_state`` (a non-terminal state's name or index,
                where every reset sub-env starts) and ``reset_mask`` (a
                ``(num_envs,)`` bool array: reset only these sub-envs, as
                ``SyncVectorEnv`` does; the others keep their episodes and
                report nothing in ``info``).

        The seed and options are checked before anything changes: a rejected
        call leaves every stream as it was and ends the episodes in progress,
        so ``step`` raises ``ResetNeeded`` until a ``reset`` succeeds.

        Raises:
            TypeError, ValueError: For a seed or option that is not allowed.
        """
        try:
            seeds = check_seeds(seed, self.num_envs)
            mask, start = self._check_options(options)
        except Exception:
            self._ready[:] = False
            self._all_ready = False
            raise
        index = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        if seeds is not None:
            self._seeds[index] = seeds[index]
            self._streams[KEY, index] = stream_keys(seeds[index])
            self._streams[COUNTER, index] = 0
        out = self._outputs()
        for block in out:
            block.fill(0)
        kernels_numpy.reset_range(
            index,
            self._mode,
            self._model,
            self._memory,
            self._streams,
            out.words(),
            start,
        )
        self._ready[index] = True
        self._all_ready = bool(self._ready.all())
        reported = self._all_report if mask is None else mask.copy()
        info = self._info(out, reported, self._rows(out))
        return self._observe(self._memory[STATE]), info

    def _check_options(
        self, options: object
    ) -> tuple[NDArray[np.bool_] | None, int | None]:
        """``(reset_mask or None, start state or None)`` of ``reset``'s options.

        Raises:
            TypeError, ValueError: For an option that is not allowed.
        """
        if options is None:
            return None, None
        if not isinstance(options, dict):
            raise TypeError(
                f"options must be a dict (allowed keys: "
                f"{', '.join(VECTOR_RESET_OPTIONS)}) or None, got {options!r}"
            )
        unknown = sorted(repr(k) for k in options if k not in VECTOR_RESET_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(map(repr, VECTOR_RESET_OPTIONS))}"
            )
        mask = options.get("reset_mask")
        if mask is not None:
            shape = (self.num_envs,)
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
                raise TypeError(
                    f"options['reset_mask'] must be a NumPy bool array of shape "
                    f"{shape}, got {mask!r}"
                )
            if mask.shape != shape:
                raise ValueError(
                    f"options['reset_mask'] must have shape {shape}, got {mask.shape}"
                )
            if not mask.any():
                raise ValueError(
                    "options['reset_mask'] must select at least one sub-env"
                )
        rest = {k: v for k, v in options.items() if k != "reset_mask"}
        return mask, check_reset_options(self._mdp.sparse, rest)

    def step(
        self, actions: NDArray[Any]
    ) -> tuple[
        NDArray[Any],
        NDArray[np.float64],
        NDArray[np.bool_],
        NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Step every sub-env with its action; see :class:`AccessReviewVectorEnv`.

        Raises:
            TypeError, ValueError: For actions of the wrong dtype, shape or range.
            ResetNeeded: Before a sub-env's first ``reset``, after a rejected
                one, or (``DISABLED``) for a sub-env whose episode ended.
            InvalidActionError: Under ``invalid_action="raise"``, for an action
                with no transition.
        """
        actions = self._check_type(actions)
        if not self._all_ready:
            unready = int(np.argmin(self._ready))
            raise ResetNeeded(
                f"call reset() before step(): sub-env {unready} has no episode in "
                "progress (never reset, or the last reset was rejected)"
            )
        kernels = step_kernels()
        reason, index = kernels.first_refusal(
            self._settings,
            self._model.decision_indptr,
            self._memory,
            actions,
            self._refuse_invalid,
        )
        if reason:
            self._refuse(int(reason), int(index), actions)
        out = self._outputs()
        same_step = self._mode == SAME_STEP
        finals = Outputs.zeros(self.num_envs, self._n_actions) if same_step else None
        self._run(
            self._kernel(kernels),
            actions,
            out,
            self._no_finals if finals is None else finals.words(),
        )
        rows = self._rows(out)
        info = self._info(out, self._all_report, rows)
        if finals is not None and finals.flags[STEPPED].any():
            ended = finals.flags[STEPPED].copy()
            final_obs = np.full(self.num_envs, None, dtype=object)
            for k in np.flatnonzero(ended):
                final_obs[k] = self._single_observation(int(finals.ints[OUT_STATE, k]))
            info["final_obs"], info["_final_obs"] = final_obs, ended
            info["final_info"] = self._info(finals, ended, finals.rows())
            info["_final_info"] = ended
        return (
            self._observe(self._memory[STATE]),
            rows.reward,
            rows.terminated,
            rows.truncated,
            info,
        )

    def _kernel(self, kernels: ModuleType) -> Callable[..., None]:
        """The step loop for this model: staged when it outgrows the caches."""
        if kernels is kernels_numpy:
            return kernels_numpy.step_range
        return kernels.step_staged if self._staged else kernels.step_fused  # type: ignore[no-any-return]

    def _run(
        self,
        kernel: Callable[..., None],
        actions: NDArray[Any],
        out: Outputs,
        finals: tuple[NDArray[Any], ...],
    ) -> None:
        """Run ``kernel`` over every chunk of sub-envs (on worker threads if many)."""
        arguments = (
            self._settings,
            self._model_arrays,
            self._memory,
            self._streams,
            actions,
            out.words(),
            finals,
            self._mask_slots,
        )
        if len(self._chunks) == 1:
            kernel(0, self.num_envs, *arguments)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=len(self._chunks))
        futures = [
            self._executor.submit(kernel, first, last, *arguments)
            for first, last in self._chunks
        ]
        for future in futures:
            future.result()

    def _outputs(self) -> Outputs:
        if self._reused is not None:
            return self._reused
        return Outputs.empty(self.num_envs, self._n_actions)

    def _observe(self, states: NDArray[np.int32]) -> NDArray[Any]:
        """The observations of ``states`` ``(N,)`` in this env's mode (see ``copy``)."""
        buffer = self._reused_observations
        if self._observation == "index":
            if buffer is None:
                return states.astype(np.int64)
            np.copyto(buffer, states)
            return buffer
        if self._features is None:
            features = self._mdp.features(states.astype(np.int64))
            if buffer is None:
                return features
            np.copyto(buffer, features)
            return buffer
        return np.take(self._features, states, axis=0, out=buffer)

    def _single_observation(self, state: int) -> Any:
        """One sub-env's observation as the single env returns it (a fresh one)."""
        if self._observation == "index":
            return state
        if self._features is None:
            return self._mdp.features(np.array([state]))[0]
        return self._features[state].copy()

    def _rows(self, out: Outputs) -> Rows:
        """The row views of ``out`` (the same objects every call for reused buffers)."""
        if out is self._reused:
            return self._reused_rows
        return out.rows()

    def _info(
        self, out: Outputs, reported: NDArray[np.bool_], rows: Rows
    ) -> dict[str, Any]:
        """The info dict in Gymnasium's vector convention, from output blocks.

        Args:
            out: The blocks of a step or reset.
            reported: ``(N,)`` which sub-envs report the single env's keys
                (``event_outcome`` included: 0 at a reset).
            rows: ``out``'s rows.
        """
        info: dict[str, Any] = {
            "state": rows.state,
            "_state": reported,
            "action_mask": out.masks,
            "_action_mask": reported,
            "cost": rows.cost,
            "_cost": reported,
            "outcome": rows.outcome,
            "_outcome": reported,
            "invalid_action": rows.invalid,
            "_invalid_action": reported,
            "prob": rows.prob,
            "_prob": reported,
        }
        if self._has_events:
            info["event_outcome"] = rows.event_outcome
            info["_event_outcome"] = reported
        return info

    def _check_type(self, actions: Any) -> NDArray[Any]:
        """Return ``actions`` as an array if they are ``(num_envs,)`` integers.

        Raises:
            TypeError: For a non-integer dtype (booleans included).
            ValueError: For a wrong shape.
        """
        checked: NDArray[Any] = np.asarray(actions)
        if checked.dtype.kind not in "iu":
            raise TypeError(
                f"actions must be integers in [0, {self._n_actions - 1}], "
                f"got dtype {checked.dtype}"
            )
        if checked.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {checked.shape}"
            )
        return checked

    def _refuse(self, reason: int, index: int, actions: NDArray[Any]) -> None:
        """Raise the error for the first refused sub-env (nothing has changed)."""
        action = int(actions[index])
        n_actions = self._n_actions
        if reason == OUT_OF_RANGE:
            raise ValueError(
                f"sub-env {index}: action {action} is out of range; allowed actions "
                f"are integers in [0, {n_actions - 1}]"
            )
        if reason == ENDED_EPISODE:
            raise ResetNeeded(
                f"sub-env {index} ended its episode and autoreset_mode is DISABLED: "
                "reset it first, e.g. reset(options={'reset_mask': "
                "terminated | truncated})"
            )
        assert reason == INVALID_ACTION
        state = int(self._memory[STATE, index])
        sparse = self._mdp.sparse
        raise InvalidActionError(
            f"sub-env {index}: "
            + invalid_action_message(
                state,
                action,
                sparse.valid_action_mask[state],
                self._mdp.state_label(state),
                sparse.action_names,
            )
        )

    def action_masks(self) -> NDArray[np.bool_]:
        """``(num_envs, A)`` the valid-action mask of each sub-env's current state."""
        masks: NDArray[np.bool_] = self._mdp.sparse.valid_action_mask[
            self._memory[STATE]
        ]
        return masks

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the worker threads, if any were started."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class AccessReviewVectorEnv(TaskVectorEnv):
    """``num_envs`` independent AccessReview-v0 episodes, stepped together.

    Made by ``gym.make_vec("AccessReview-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``. What this class says holds for
    every task's vector env (:class:`AccessReviewRiskVectorEnv`,
    :class:`AccessReviewQueueVectorEnv`, :class:`TaskVectorEnv` of any model).

    ## Semantics
    Each sub-env is ``gym.make`` of the task (the single env under its
    ``TimeLimit``), and the batch is ``SyncVectorEnv`` over them in the same
    ``autoreset_mode`` (``envs.autoreset_mode``, also
    ``envs.metadata["autoreset_mode"]``), checked against it array by array
    where the dynamics are deterministic and by chi-square tests where not:

    - ``NEXT_STEP`` (default): the step after a sub-env terminates or is
      truncated resets it, ignores its action and returns its start
      observation with reward 0 and no flags; its info is the reset's.
    - ``SAME_STEP``: the step that ends an episode returns its reward and
      flags with the next episode's start observation and reset info; the
      ended step's observation and info are in ``info["final_obs"]`` (an
      object array, None for the others) and ``info["final_info"]`` (a dict
      in the same convention), with ``_final_obs`` / ``_final_info`` masks;
      both keys are present only when some sub-env ended.
    - ``DISABLED``: nothing resets by itself; stepping a sub-env whose episode
      ended raises ``ResetNeeded`` (``SyncVectorEnv`` fails an assertion)
      until ``reset(options={"reset_mask": mask})`` restarts it.

    ``reset(options=...)`` takes ``start_state`` (as the single env) and
    ``reset_mask`` (as ``SyncVectorEnv``: a ``(N,)`` bool array; only those
    sub-envs restart). ``step`` raises ``ResetNeeded`` before a sub-env's
    first reset; a reset rejected for its seed or options changes nothing
    (the random streams included) but ends the episodes in progress, so
    ``step`` raises ``ResetNeeded`` until a reset succeeds. Actions must be
    ``(N,)`` integers in range; under ``invalid_action="raise"`` an invalid
    one raises ``InvalidActionError`` naming the sub-env, before anything
    moves.

    ## Data types
    Observations are ``int64`` ``(N,)`` state indices, or with
    ``observation="features"`` ``float32`` ``(N, d)`` rows of
    ``envs.mdp.features``; rewards ``float64`` (every reward the single env
    can return comes back unchanged); terminated and truncated ``bool``.

    ## Information
    The single env's keys, batched as ``SyncVectorEnv`` batches them, each
    key ``k`` beside a bool ``_k`` saying which sub-envs report it:

    - ``state`` ``(N,)`` int64; ``action_mask`` ``(N, A)`` bool;
      ``cost`` ``(N,)`` float64; ``outcome`` ``(N,)`` int64, an index into
      ``envs.metadata["outcomes"]``; ``invalid_action`` ``(N,)`` bool;
      ``prob`` ``(N,)`` float64;
    - for a task with random events (the queue), ``event_outcome`` ``(N,)``
      int64, which the single env reports on steps only: its mask is False
      where the slot was a reset.

    Every key is present in every ``reset`` and ``step`` info, with the same
    dtype and shape, so readers of fixed keys (TorchRL's) work; a key no
    sub-env reports has an all-False mask where ``SyncVectorEnv`` would leave
    it out.

    ## Seeding
    Each sub-env draws from its own random stream (a counter-based hash of
    its seed, ``access_review_env.vector.streams``), so a sub-env's
    trajectory depends only on its seed and its actions: seed ``s`` in a
    batch of 1,000 steps exactly as seed ``s`` alone. As in
    ``SyncVectorEnv``, ``reset(seed=s)`` seeds sub-env ``k`` with ``s + k``,
    ``reset(seed=[s_0, ..., s_{N-1}])`` seeds each (None: from the OS), and
    ``reset()`` continues the streams; ``envs.seeds`` holds the seeds.
    Seeds are integers in ``[0, 2**64)``. A step takes one draw for the
    decision and, with random events, one for the event; a reset takes one
    for its start state (used or not). There is no ``np_random``.

    ## Arguments
    ``copy=False`` returns buffers the next call overwrites (faster for large
    batches). Batches of at least 2**18 sub-envs are split over ``threads``
    worker threads; results do not depend on the thread count. With numba
    installed (the ``fast`` extra) the step is compiled; without it, NumPy
    returns the same bits. The settings and the model (``envs.mdp``) are
    read-only. Pickling and ``copy.deepcopy`` work at any point.

    ## Version History
    - v0: Initial version.
    """

    declaration = ACCESS_REVIEW_TASK


class AccessReviewRiskVectorEnv(TaskVectorEnv):
    """``num_envs`` independent AccessReviewRisk-v0 episodes, stepped together.

    Made by ``gym.make_vec("AccessReviewRisk-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``; semantics, data types, infos
    and seeding are :class:`AccessReviewVectorEnv`'s. Every reset, autoresets
    included, draws the request's kind from the start distribution.

    ## Arguments
    """

    declaration = ACCESS_REVIEW_RISK_TASK


class AccessReviewQueueVectorEnv(TaskVectorEnv):
    """``num_envs`` independent AccessReviewQueue-v0 episodes, stepped together.

    Made by ``gym.make_vec("AccessReviewQueue-v0", num_envs=N,
    vectorization_mode="vector_entry_point", level=...)``; semantics, data
    types, infos and seeding are :class:`AccessReviewVectorEnv`'s, on every
    level of the ladder (``access_review_env.QUEUE_LEVELS``): a step reads the
    level's sparse model in place, one decision branch and one event branch
    per sub-env, so the million-state level needs no more memory than its
    model. ``info["event_outcome"]`` says how the step's event closed a
    request (``abandoned``, ``turned_away``), 0 if it closed none.

    ## Arguments
    """

    declaration = QUEUE_TASK
