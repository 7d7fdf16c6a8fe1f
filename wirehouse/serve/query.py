"""Ad-hoc SQL from users: read-only exploring statements, on a locked-down connection.

Two layers. sqlglot allow-lists the statement kinds, PRAGMAs and table functions, so a
refusal is a clear message before anything runs. The connection is the backstop: read-only,
DuckDB's external access off (no file is read, listed or written, whatever slips past the
parser; `PRAGMA import_database` and `read_text` fail there too), configuration locked.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from ingest.loader import warehouse as db

# sqlglot warns on stderr when it keeps SHOW/EXPLAIN as a Command; those are checked below
logging.getLogger("sqlglot").setLevel(logging.ERROR)

ALLOWED_KINDS = "SELECT/FROM/WITH, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN, PIVOT, read-only PRAGMA"
READ_ONLY_ROOTS = (
    exp.Query,
    exp.Values,
    exp.Describe,
    exp.Summarize,
    exp.Show,
    exp.Pivot,
    exp.Pragma,
)
# where a table goes: FROM/JOIN, or the target of DESCRIBE, SUMMARIZE, PIVOT
TABLE_PLACES = (exp.From, exp.Join, exp.Lateral, exp.Describe, exp.Summarize, exp.Pivot)
# sqlglot leaves these DuckDB statements unparsed (exp.Command); their rest is checked
COMMANDS = frozenset({"SHOW", "EXPLAIN"})
SHOW_WORDS = frozenset({"tables", "all tables", "databases"})
READ_ONLY_PRAGMAS = frozenset(
    {
        "table_info",
        "show",
        "show_tables",
        "show_tables_expanded",
        "show_databases",
        "database_list",
        "database_size",
        "storage_info",
        "metadata_info",
        "functions",
        "collations",
        "version",
        "platform",
        "user_agent",
    }
)
# Table functions a person uses to look around; the rest (read_*, glob, query, *_scan...)
# read files, list directories or run SQL from strings.
TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_databases",
        "duckdb_dependencies",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_sequences",
        "duckdb_settings",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "pragma_database_size",
        "pragma_show",
        "pragma_storage_info",
        "pragma_table_info",
        "pragma_version",
    }
)
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
    exp.Install,
    exp.Into,
)
# a quoted "table" that DuckDB would read as a file (replacement scan)
FILE_LIKE = re.compile(r"[/\\*?]|\.(csv|tsv|txt|json|jsonl|ndjson|parquet|gz|zst|db|duckdb)$", re.I)


class UnsafeQuery(ValueError):
    """The SQL is not one read-only exploring statement."""


class ReadOnlySql(str):
    """SQL that passed check_read_only."""


def check_read_only(sql: str) -> ReadOnlySql:
    """Return the SQL if it is one read-only statement, else raise UnsafeQuery."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:  # ParseError, TokenError (`select 1 /*`)
        raise UnsafeQuery(f"cannot parse: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UnsafeQuery("cannot parse: nested too deeply") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"expected one statement, got {len(statements)}")
    _check_tree(statements[0])
    return ReadOnlySql(sql)


def _check_tree(tree: exp.Expression) -> None:
    if isinstance(tree, exp.Command):
        _check_command(tree)
        return
    if not isinstance(tree, READ_ONLY_ROOTS):
        raise UnsafeQuery(
            f"only read-only statements run here ({ALLOWED_KINDS}), not {_kind(tree)}"
        )
    if isinstance(tree, exp.Pragma):
        name = tree.this.name.lower()
        if name not in READ_ONLY_PRAGMAS:
            raise UnsafeQuery(
                f"PRAGMA {name} is not allowed; read-only PRAGMAs: "
                + ", ".join(sorted(READ_ONLY_PRAGMAS))
            )
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Schema):
        # sqlglot reads `describe f('x')` as a table f with columns 'x': a function call
        _check_function_name(tree.this.this.name)
    writer = next(tree.find_all(*WRITES), None)
    if writer is not None:
        raise UnsafeQuery(f"only read-only statements run here; found {_kind(writer)}")
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            _check_table_function(table.this)
        elif table.this is not None and FILE_LIKE.search(table.name):
            raise UnsafeQuery(f"{table.name!r} would read a file; query tables by name")
    for func in tree.find_all(exp.Func):
        if isinstance(func.parent, TABLE_PLACES) and func.arg_key == "this":
            _check_table_function(func)


def _check_command(tree: exp.Command) -> None:
    word = str(tree.this).upper()
    rest = (
        tree.expression.name
        if isinstance(tree.expression, exp.Literal)
        else str(tree.expression or "")
    )
    rest = rest.strip()
    if word not in COMMANDS:
        raise UnsafeQuery(f"only read-only statements run here ({ALLOWED_KINDS}), not {word}")
    if word == "EXPLAIN":
        inner = re.sub(r"^analyze\s+", "", rest, flags=re.I)
        check_read_only(inner)
    elif rest.lower() not in SHOW_WORDS:
        check_read_only(f"describe {rest}")  # SHOW <table> is DESCRIBE <table>


def _check_table_function(func: exp.Func) -> None:
    _check_function_name(func.name if isinstance(func, exp.Anonymous) else func.sql_name())


def _check_function_name(name: str) -> None:
    name = name.lower()
    if name not in TABLE_FUNCTIONS:
        raise UnsafeQuery(
            f"table function {name} is not allowed (it could read files or run SQL);"
            " allowed: " + ", ".join(sorted(TABLE_FUNCTIONS))
        )


def _kind(node: exp.Expression) -> str:
    return node.key.upper()


def connect_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot touch files, install anything or change settings.

    Marts come first on the search path, so `show tables` and `from fct_x` find them. Raises
    ingest.loader.warehouse's WarehouseBusy (naming the process) while a writer holds the file.
    """
    con = db.connect(path, read_only=True)
    schemas = {row[0] for row in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    search_path = ",".join(s for s in ("marts", "reference", "main") if s in schemas)
    con.execute(f"set search_path = '{search_path}'")
    # db.connect opened it with extension autoinstall and autoload off
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def tables_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL listing each mart and lookup table with its grain (the first words of its dbt
    description, which persist_docs stores as the table's comment) and exact row count."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables()"
        " where schema_name in ('marts', 'reference') order by all"
    ).fetchall()
    if not tables:
        return (
            "select null::varchar as table_name, null::bigint as row_count,"
            " null::varchar as grain where false"
        )
    counts = " union all ".join(
        f"select '{schema}.{table}' as table_name, count(*) as row_count from {schema}.{table}"
        for schema, table in tables
    )
    # "One row per UTC hour and flow (hour_at, flow): ..." -> up to the key's parenthesis
    return f"""
        with counts as ({counts}),
        described as (
            select schema_name || '.' || table_name as table_name, comment
            from duckdb_tables()
        )
        select
            counts.table_name,
            counts.row_count,
            coalesce(
                nullif(regexp_extract(described.comment, '^(One row per [^:]*?\\))', 1), ''),
                split_part(described.comment, ':', 1)
            ) as grain
        from counts
        left join described on counts.table_name = described.table_name
        order by counts.table_name
    """
