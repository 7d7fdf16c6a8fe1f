{#- The project's one incremental strategy, replace_partitions (set for
    every model in dbt_project.yml): the partitions - combinations of the
    model's `partition_by` columns, a node and optionally a period - that
    the build rebuilds are replaced by the new rows. Those are the
    partitions in the new rows and every partition of the range
    nodes_changed names (a node, from a day on): a partition whose input
    rows were all removed (forget, --replace) has no new rows and must go
    too. So a model's incremental branch selects whole partitions. Spark's
    dynamic insert_overwrite, which dbt-spark runs from the same config,
    replaces only the partitions in the new rows. -#}
{% macro get_incremental_replace_partitions_sql(arg_dict) -%}
    {%- set columns = config.get('partition_by') -%}
    {%- if columns is string -%}
        {%- set columns = [columns] -%}
    {%- endif -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(
            'incremental strategy replace_partitions: ' ~ this
            ~ ' has no partition_by columns'
        ) }}
    {%- endif -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set listed = get_quoted_csv(
        arg_dict['dest_columns'] | map(attribute='name')
    ) -%}
    {%- set range = rebuilt_rows(
        nodes_changed(),
        'replaced.' ~ columns[1] if columns | length > 1 else none,
        'replaced.' ~ columns[0],
    ) %}
    delete from {{ target }} as replaced
    where
        {{ range }}
        or exists (
            select 1 from {{ new_rows }} as rebuilt
            where
            {%- for column in columns %}
                replaced.{{ column }} is not distinct from rebuilt.{{ column }}
                {{- ' and' if not loop.last }}
            {%- endfor %}
        );

    insert into {{ target }} ({{ listed }})
    select {{ listed }} from {{ new_rows }}
{%- endmacro %}
