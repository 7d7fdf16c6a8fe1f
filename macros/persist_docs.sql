{#- dbt's persist_docs, asked first: an incremental model's table keeps its
    comments between builds, so re-commenting every column on every build (a
    table comment, two column listings and the column comments: four
    statements per model) is done only when a comment differs from the docs.
    One query reads the table's and its columns' comments. -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- set rows = run_query(
        "select null as column_name, comment from duckdb_tables()"
        ~ " where database_name = '" ~ relation.database ~ "'"
        ~ " and schema_name = '" ~ relation.schema ~ "'"
        ~ " and table_name = '" ~ relation.identifier ~ "'"
        ~ " union all select column_name, comment from duckdb_columns()"
        ~ " where database_name = '" ~ relation.database ~ "'"
        ~ " and schema_name = '" ~ relation.schema ~ "'"
        ~ " and table_name = '" ~ relation.identifier ~ "'"
    ).rows -%}
    {%- set have = {} -%}
    {%- for name, comment in rows -%}
        {%- do have.update({name: comment}) -%}
    {%- endfor -%}
    {%- set same = namespace(docs=none in have) -%}
    {%- if for_relation and config.persist_relation_docs() and model.description
        and (have.get(none) or '') != model.description -%}
        {%- set same.docs = false -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() -%}
        {%- for name, column in model.columns.items()
            if name in have and (have[name] or '') != (column.description or '') -%}
            {%- set same.docs = false -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if not same.docs -%}
        {%- do default__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- endif -%}
{%- endmacro %}
