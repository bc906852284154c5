"""The model's data collector: one tuple per month, columns and the frame built on demand.

``RowCollector`` is Mesa's ``DataCollector`` for model reporters that are zero-argument
callables returning immutable scalars (numbers, texts, flags, dates), as every frame
column of this model is. Mesa's own ``collect`` appends each value to its column after
deep-copying it (to guard against mutable values); here a month is one call that
returns a tuple, kept as a row:

- consecutive columns that read attributes of one object
  (``functools.partial(operator.attrgetter(name), obj)``, how the model declares its
  columns) are read by one ``attrgetter`` of all their names: one C call per object
  instead of one Python call per column;
- the rows become Mesa's ``model_vars`` (column name -> list of values) only when it is
  read (``mesa.batch_run``, Mesa's plotting components, ``get_model_vars_dataframe``),
  by one transposition; rows collected later are added at the next read;
- ``get_model_vars_dataframe`` hands pandas NumPy arrays for the columns whose values
  are all floats, all ints or all bools (pandas would infer the same dtype from the
  list, more slowly) and the lists of the others: the frame is the one Mesa builds.

The interface (``model_vars``, ``get_model_vars_dataframe``, and the private
``_collection_steps`` that ``mesa.batch_run`` reads, kept in ``sim/adapters.py``) is Mesa's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from operator import attrgetter

import mesa
import numpy as np
import pandas as pd

from sim.adapters import note_collection_step

# Python scalar types whose lists NumPy turns into the array pandas would build from them.
_ARRAY_TYPES = {float: np.float64, int: np.int64, bool: np.bool_}


def _attribute_of(reporter: Callable[[], object]) -> tuple[object, tuple[str, ...]] | None:
    """(object, (attribute name,)) of a ``partial(attrgetter(name), obj)`` reporter, else None.

    An ``attrgetter`` of several names reports one tuple (one column): it is left as it is.
    """
    if isinstance(reporter, partial) and isinstance(reporter.func, attrgetter) and len(reporter.args) == 1 \
            and not reporter.keywords:
        _, names = reporter.func.__reduce__()  # the pickling protocol: (attrgetter, its attribute names)
        if len(names) == 1:
            return reporter.args[0], names
    return None


def _readers(reporters: list[Callable[[], object]]) -> list[tuple[Callable[[], object], int]]:
    """The calls that read one month: (callable, width); width 0 means it returns one value, k > 0 a k-tuple.

    Runs of consecutive attribute reporters on the same object become one ``attrgetter``
    of all their names, so the columns keep their order.
    """
    readers: list[tuple[Callable[[], object], int]] = []
    run_obj, run_names = None, []

    def close_run() -> None:
        if run_names:
            getter = attrgetter(*run_names)  # one name: a value; several: a tuple
            readers.append((partial(getter, run_obj), len(run_names) if len(run_names) > 1 else 0))

    for reporter in reporters:
        attribute = _attribute_of(reporter)
        if attribute is not None and attribute[0] is run_obj and run_names:
            run_names.extend(attribute[1])
            continue
        close_run()
        if attribute is not None:
            run_obj, run_names = attribute[0], list(attribute[1])
        else:
            run_obj, run_names = None, []
            readers.append((reporter, 0))
    close_run()
    return readers


def _as_array(values: list) -> np.ndarray | list:
    """``values`` as the NumPy array pandas would infer from them, or the list itself when in doubt."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        return values
    dtype = _ARRAY_TYPES.get(kinds.pop())
    if dtype is None:
        return values
    try:
        return np.array(values, dtype=dtype)
    except OverflowError:  # an int beyond int64: pandas decides
        return values


class RowCollector(mesa.DataCollector):
    """Mesa's DataCollector collecting one row per step (module docstring)."""

    def __init__(self, columns: Mapping[str, Callable[[], object]]):
        self._names = list(columns)
        readers = _readers(list(columns.values()))
        self._readers = [reader for reader, _ in readers]
        self._widths = [width for _, width in readers]
        self._rows: list[tuple] = []
        self._columns_done = 0  # rows already moved into the columns
        super().__init__(model_reporters=dict(columns))

    # Mesa's DataCollector sets ``self.model_vars = {}`` in its __init__: kept as the columns' dict.
    @property
    def model_vars(self) -> dict[str, list]:
        """Column name -> list of values (Mesa's attribute), brought up to date with the rows collected."""
        pending = self._rows[self._columns_done:]
        if pending:
            columns = self._columns
            names = iter(self._names)
            for width, values in zip(self._widths, zip(*pending)):
                if width:
                    for part in zip(*values):
                        columns[next(names)].extend(part)
                else:
                    columns[next(names)].extend(values)
            self._columns_done = len(self._rows)
        return self._columns

    @model_vars.setter
    def model_vars(self, value: dict[str, list]) -> None:
        self._columns = value

    def collect(self, model: mesa.Model) -> None:
        note_collection_step(self, model.time)  # read by mesa.batch_run
        self._rows.append(tuple([read() for read in self._readers]))

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The table of every collected step, one column per reporter (Mesa's frame, built faster)."""
        if not self.model_reporters:
            raise UserWarning("No model reporters have been defined in the DataCollector, returning empty DataFrame.")
        return pd.DataFrame({name: _as_array(values) for name, values in self.model_vars.items()})
