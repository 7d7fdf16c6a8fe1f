{#- The nodes whose Bitcoin rows of one kind were loaded after this
    incremental model was last built, each with the first UTC day of those
    rows: a list of [node_id, 'YYYY-MM-DD']; none on a full build (rebuild
    everything). `kind` is 'messages' (the tracepoints) or 'samples' (the
    systemd counters, in either form). A model selects each such node's
    rows from that day on (rebuilt_rows), whole partitions of its
    partition_by, so restarts, counter series and connections that cross
    the day are recomputed with what came after them. -#}
{% macro nodes_changed(kind) -%}
    {%- if kind == 'messages' -%}
        {%- set relations = [ref('stg_bitcoin_p2p__messages')] -%}
        {%- set time_column = 'logged_at' -%}
    {%- elif kind == 'samples' -%}
        {%- set relations = [
            ref('stg_systemd_ip_accounting__samples'),
            ref('stg_systemd_ip_accounting__intervals'),
        ] -%}
        {%- set time_column = 'sampled_at' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "nodes_changed: kind must be 'messages' or 'samples', got " ~ kind
        ) }}
    {%- endif -%}
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
