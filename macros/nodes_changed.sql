{#- The nodes whose rows were loaded after this incremental model was last
    built, each with the first UTC day of those rows: a list of
    [node_id, 'YYYY-MM-DD']; none on a full build (rebuild everything).
    A model selects each such node's rows from that day on (rebuilt_rows),
    whole partitions of its partition_by, so restarts, counter series and
    connections that cross the day are recomputed with what came after
    them. `relations` are staging models with node_id and loaded_at;
    `time_column` is their event time. -#}
{% macro nodes_changed(relations, time_column) -%}
    {#- unit tests have no `this`: they build in full -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set built = run_query(
        'select max(loaded_at) from ' ~ this
    ).columns[0].values()[0] -%}
    {%- set branches = [] -%}
    {%- for relation in relations -%}
        {%- set branch -%}
            select node_id, {{ time_column }} as changed_at
            from {{ relation }}
            {%- if built is not none %}
                where loaded_at > cast('{{ built }}' as timestamp)
            {%- endif %}
        {%- endset -%}
        {%- do branches.append(branch) -%}
    {%- endfor -%}
    {%- set changed -%}
        select
            node_id,
            cast(cast(min(changed_at) as date) as varchar) as from_date
        from ({{ branches | join(' union all ') }}) as changed
        where changed_at is not null
        group by node_id
        order by node_id
    {%- endset -%}
    {{ return(run_query(changed).rows | map('list') | list) }}
{%- endmacro %}
