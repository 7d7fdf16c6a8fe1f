"""Ad-hoc SQL from users: parsed with sqlglot and refused unless it is one read-only query."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

READ_ONLY_ROOTS = (exp.Query, exp.Describe, exp.Pragma)
WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Copy,
    exp.Command,
    exp.Set,
    exp.Use,
    exp.Attach,
    exp.Detach,
)


class UnsafeQuery(ValueError):
    """The SQL is not a single read-only query."""


def check_read_only(sql: str) -> str:
    """Return the SQL unchanged if it is one read-only statement, else raise UnsafeQuery."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise UnsafeQuery(f"cannot parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"expected one statement, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, READ_ONLY_ROOTS):
        raise UnsafeQuery(f"only queries are allowed, not {tree.key.upper()}")
    writer = next(tree.find_all(*WRITES), None)
    if writer is not None:
        raise UnsafeQuery(f"only queries are allowed; found {writer.key.upper()}")
    return sql
